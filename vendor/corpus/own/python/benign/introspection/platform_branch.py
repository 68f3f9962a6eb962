import sys
sep = '\r\n' if sys.platform == 'win32' else '\n'
print(repr(sep))
