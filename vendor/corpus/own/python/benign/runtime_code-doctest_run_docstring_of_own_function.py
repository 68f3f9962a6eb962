import doctest
def square(x):
    """
    >>> square(4)
    16
    """
    return x * x
doctest.run_docstring_examples(square, globals())
