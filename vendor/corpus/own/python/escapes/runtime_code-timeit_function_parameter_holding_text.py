import timeit
def bench(stmt):
    return timeit.timeit(stmt, number=1)
bench(input())
