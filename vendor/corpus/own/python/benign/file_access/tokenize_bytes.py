import tokenize, io
src = b'x = 1 + 2\n'
for tok in tokenize.tokenize(io.BytesIO(src).readline):
    print(tok.type, tok.string)
