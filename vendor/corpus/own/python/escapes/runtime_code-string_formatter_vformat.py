import string
print(string.Formatter().vformat(input(), (print,), {}))
