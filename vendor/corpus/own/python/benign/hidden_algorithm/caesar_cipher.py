def shift(s, k):
    return ''.join(chr((ord(c) - 97 + k) % 26 + 97) for c in s)
print(shift('hello', 3), shift(shift('hello', 3), -3))
