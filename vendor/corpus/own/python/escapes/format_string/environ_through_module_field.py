import random
print('{r._os.environ}'.format(r=random))
