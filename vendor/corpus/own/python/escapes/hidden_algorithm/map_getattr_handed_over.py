names = input().split()
objs = [print] * len(names)
print(list(map(getattr, objs, names)))
