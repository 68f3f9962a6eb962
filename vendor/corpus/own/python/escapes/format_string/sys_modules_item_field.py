import sys
print('{0.modules[os].environ}'.format(sys))
