import warnings
def old():
    warnings.warn('old() is deprecated', DeprecationWarning, stacklevel=2)
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter('always')
    old()
print(len(w))
