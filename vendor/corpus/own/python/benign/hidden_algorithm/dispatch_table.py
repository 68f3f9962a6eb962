def add(a, b):
    return a + b
def mul(a, b):
    return a * b
ops = {'add': add, 'mul': mul}
op, a, b = input().split()
print(ops[op](int(a), int(b)))
