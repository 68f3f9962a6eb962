import functools
class A:
    pass
a = A()
a.b = A()
a.b.c = 3
print(functools.reduce(getattr, 'b.c'.split('.'), a))
