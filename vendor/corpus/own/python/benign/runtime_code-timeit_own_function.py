import timeit
def work():
    return sorted(range(1000))
print(timeit.timeit(work, number=10))
print(timeit.repeat(lambda: work(), number=5, repeat=3))
