import doctest
def f():
    pass
f.__doc__ = input()
doctest.run_docstring_examples(f, {})
