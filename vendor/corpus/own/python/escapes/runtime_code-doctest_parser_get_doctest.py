import doctest, sys
t = doctest.DocTestParser().get_doctest(sys.stdin.read(), {}, 'x', None, 0)
doctest.DocTestRunner().run(t)
