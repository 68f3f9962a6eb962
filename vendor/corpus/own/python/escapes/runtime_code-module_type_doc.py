import doctest, types
m = types.ModuleType('m', input())
doctest.testmod(m)
