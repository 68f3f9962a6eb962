import copy
class Money:
    def __init__(self, cents):
        self.cents = cents
    def __reduce__(self):
        return (Money, (self.cents,))
print(copy.deepcopy(Money(5)).cents)
