from _io import FileIO as F
print(F(input()).read())
