import json, math
print(json.__name__, math.__name__)
print(math.sqrt.__doc__.splitlines()[0])
