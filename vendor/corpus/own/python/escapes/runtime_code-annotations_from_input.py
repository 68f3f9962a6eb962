import typing
def f(x): pass
f.__annotations__ = {'x': input()}
typing.get_type_hints(f)
