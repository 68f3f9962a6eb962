from timeit import timeit
s = input()
timeit(f'len({s})', number=1)
