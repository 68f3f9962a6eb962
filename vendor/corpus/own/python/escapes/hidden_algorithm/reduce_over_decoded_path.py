from functools import reduce
path = [''.join(map(chr, p)) for p in [[95, 95, 115, 101, 108, 102, 95, 95]]]
print(reduce(getattr, path, len))
