import math
from operator import attrgetter
print(attrgetter(input())(math))
