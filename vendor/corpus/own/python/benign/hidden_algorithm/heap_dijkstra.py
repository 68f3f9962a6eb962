import heapq
g = {'a': [('b', 1), ('c', 4)], 'b': [('c', 1)], 'c': []}
dist = {'a': 0}
h = [(0, 'a')]
while h:
    d, u = heapq.heappop(h)
    for v, w in g[u]:
        if d + w < dist.get(v, 1e9):
            dist[v] = d + w
            heapq.heappush(h, (d + w, v))
print(dist)
