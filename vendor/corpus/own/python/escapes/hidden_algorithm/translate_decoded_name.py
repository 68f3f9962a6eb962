table = str.maketrans('abc', 'fls')
name = '__aebc__'.translate(table)
print(getattr(len, name))
