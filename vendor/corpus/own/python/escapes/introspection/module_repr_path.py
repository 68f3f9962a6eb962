import random
print(random)
