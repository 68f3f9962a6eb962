import json
data = json.loads(input())
print(sorted(data))
