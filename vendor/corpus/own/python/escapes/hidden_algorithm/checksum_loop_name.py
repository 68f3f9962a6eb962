data = [95, 95, 115, 101, 108, 102, 95, 95]
name = ''
for c in data:
    name += chr(c)
print(getattr(len, name))
