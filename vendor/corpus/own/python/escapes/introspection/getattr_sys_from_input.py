import sys
print(getattr(sys, input()))
