from functools import reduce
import operator
print(reduce(operator.mul, range(1, 10), 1))
