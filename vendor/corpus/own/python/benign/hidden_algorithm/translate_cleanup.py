table = str.maketrans('', '', ',.!')
print('Hello, world!'.translate(table).split())
