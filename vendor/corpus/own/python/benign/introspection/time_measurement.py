import time
start = time.perf_counter()
total = sum(range(10 ** 5))
print(total, time.perf_counter() - start >= 0, time.monotonic() > 0)
