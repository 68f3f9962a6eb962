import gzip
data = gzip.compress(b'hello ' * 100)
print(len(data), gzip.decompress(data)[:5])
