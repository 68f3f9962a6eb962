import gzip
print(gzip.open(input()).read())
