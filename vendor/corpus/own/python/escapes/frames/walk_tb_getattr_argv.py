import sys, traceback
try:
    int('x')
except ValueError as e:
    for fr, _ in traceback.walk_tb(e.__traceback__):
        print(getattr(fr, sys.argv[1]))
