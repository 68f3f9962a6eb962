import sys
print(*sys.__dict__.values(), sep='\n')
