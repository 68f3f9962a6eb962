LIMIT = 10
def limit():
    return globals()['LIMIT']
print(limit())
