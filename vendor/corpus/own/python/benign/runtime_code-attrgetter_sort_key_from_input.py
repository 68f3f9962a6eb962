from operator import attrgetter
class P:
    def __init__(self, a, b):
        self.a, self.b = a, b
key = input() or 'a'
print([p.a for p in sorted([P(2, 1), P(1, 2)], key=attrgetter(key))])
