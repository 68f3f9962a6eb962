def logged(f):
    def wrapper(*a):
        return f(*a)
    wrapper.__doc__ = f.__doc__
    wrapper.__name__ = f.__name__
    return wrapper
@logged
def g(x):
    'double'
    return 2 * x
print(g(3), g.__doc__)
