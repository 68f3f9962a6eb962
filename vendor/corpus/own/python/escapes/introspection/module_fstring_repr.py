import heapq
print(f"{heapq!r}")
