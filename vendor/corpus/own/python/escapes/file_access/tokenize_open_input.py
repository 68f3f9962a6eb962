import tokenize
with tokenize.open(input()) as f:
    print(f.read())
