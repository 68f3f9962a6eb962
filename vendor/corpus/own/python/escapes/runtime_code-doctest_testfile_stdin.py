import doctest
doctest.testfile('/dev/stdin', module_relative=False)
