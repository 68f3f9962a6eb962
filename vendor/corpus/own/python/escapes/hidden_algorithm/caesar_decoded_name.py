def decode(s, k):
    return ''.join(chr(ord(c) - k) for c in s)
name = decode('bbtfmgbb', 1)
print(getattr(print, name))
