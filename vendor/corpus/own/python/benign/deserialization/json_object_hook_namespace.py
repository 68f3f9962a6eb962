import json
from types import SimpleNamespace
obj = json.loads('{"a": {"b": 2}}', object_hook=lambda d: SimpleNamespace(**d))
print(obj.a.b)
