import sys
print(sys._getframemodulename(1))
