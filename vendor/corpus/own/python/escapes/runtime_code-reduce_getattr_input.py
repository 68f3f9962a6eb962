import functools, sys
f = functools.reduce(getattr, input().split('.'), sys)
print(f)
