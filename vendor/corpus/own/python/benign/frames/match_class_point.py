class Point:
    __match_args__ = ('x', 'y')
    def __init__(self, x, y):
        self.x, self.y = x, y
match Point(0, 5):
    case Point(x=0, y=y):
        print('on the y axis at', y)
