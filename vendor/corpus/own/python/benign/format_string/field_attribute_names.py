class P:
    def __init__(self):
        self.name, self.age = 'Ann', 30
print('{0.name} is {0.age}'.format(P()))
