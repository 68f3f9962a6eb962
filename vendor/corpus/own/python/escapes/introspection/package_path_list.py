import xml
print(xml.__path__)
