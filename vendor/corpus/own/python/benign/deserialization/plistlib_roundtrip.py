import plistlib
data = plistlib.dumps({'a': [1, 2]})
print(plistlib.loads(data))
