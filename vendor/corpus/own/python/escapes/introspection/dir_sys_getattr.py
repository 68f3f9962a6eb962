import sys
for name in dir(sys):
    print(name, getattr(sys, name))
