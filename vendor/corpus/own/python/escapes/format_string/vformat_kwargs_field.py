import string
f = string.Formatter()
print(f.vformat('{x.gi_code.co_consts}', (), {'x': (i for i in [1])}))
