import timeit
t = timeit.Timer(input())
t.timeit(1)
