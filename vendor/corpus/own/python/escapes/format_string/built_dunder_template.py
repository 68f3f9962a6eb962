u = '_' * 2
print(('{0.' + u + 'self' + u + '}').format(print))
