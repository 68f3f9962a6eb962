import heapq, gc
heap = []
for w in input().split():
    heapq.heappush(heap, w)
while heap:
    print(getattr(gc, heapq.heappop(heap))())
