def g():
    yield
x = g()
print(type(x).__dict__['gi_frame'].__get__(x))
