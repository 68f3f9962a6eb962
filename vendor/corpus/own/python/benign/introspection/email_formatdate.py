from email.utils import formatdate, parseaddr
print(parseaddr('Ann <ann@example.com>'))
print(len(formatdate()) > 0)
