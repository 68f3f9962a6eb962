import codecs
print(codecs.open(input()).read())
