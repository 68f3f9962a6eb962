import sys
print(sys._stdlib_dir)
