import doctest, sys
doctest.run_docstring_examples(sys.stdin.read(), {})
