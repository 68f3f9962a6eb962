import sys, traceback
try:
    1 / 0
except ZeroDivisionError:
    traceback.print_tb(sys.exc_info()[2])
