import timeit
timeit.timeit(input(), number=1)
