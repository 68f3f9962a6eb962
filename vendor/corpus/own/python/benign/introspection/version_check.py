import sys
if sys.version_info >= (3, 8):
    print('walrus available')
print(sys.maxsize > 2 ** 32)
