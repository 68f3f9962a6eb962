class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
p = Point(1, 2)
for key, value in vars(p).items():
    print(key, value)
print(p.__dict__)
