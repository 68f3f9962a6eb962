import dis
def f(x):
    return x + 1
dis.dis(f)
