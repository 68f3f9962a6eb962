from timeit import timeit
def bench(n):
    return timeit('abs(%s)' % n, number=1)
bench(open('/dev/stdin').read())
