import gc
table = vars(gc)
print(table[input()]())
