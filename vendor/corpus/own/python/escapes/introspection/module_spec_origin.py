import codecs as c
print(c.__spec__.origin)
