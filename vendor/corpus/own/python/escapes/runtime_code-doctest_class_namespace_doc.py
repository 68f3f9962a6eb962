import doctest
C = type('C', (), {'__doc__': input()})
doctest.run_docstring_examples(C, {})
