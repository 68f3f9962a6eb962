from collections import deque
grid = ['..#', '...', '#..']
q = deque([(0, 0)])
dist = {(0, 0): 0}
while q:
    r, c = q.popleft()
    for dr, dc in ((1, 0), (0, 1), (-1, 0), (0, -1)):
        nr, nc = r + dr, c + dc
        if 0 <= nr < 3 and 0 <= nc < 3 and grid[nr][nc] == '.' and (nr, nc) not in dist:
            dist[(nr, nc)] = dist[(r, c)] + 1
            q.append((nr, nc))
print(dist[(2, 2)])
