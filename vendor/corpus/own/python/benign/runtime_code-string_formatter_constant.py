import string
f = string.Formatter()
print(f.format('{0} + {1} = {2}', 1, 2, 3))
