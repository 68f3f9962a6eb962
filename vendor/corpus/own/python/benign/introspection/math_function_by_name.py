import math
name, x = input().split()
print(getattr(math, name)(float(x)))
