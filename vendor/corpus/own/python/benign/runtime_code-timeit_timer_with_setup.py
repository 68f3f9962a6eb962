from timeit import Timer
t = Timer('x.sort()', setup='x = list(range(100))[::-1]')
print(min(t.repeat(3, 100)))
