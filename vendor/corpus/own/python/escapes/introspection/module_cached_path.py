import json.decoder as d
print(d.__cached__)
