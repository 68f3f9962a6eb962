import pickle5, base64
print(pickle5.loads(base64.b64decode(input())))
