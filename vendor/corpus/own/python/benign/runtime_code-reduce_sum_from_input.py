import functools, operator
nums = list(map(int, input().split()))
print(functools.reduce(operator.add, nums, 0))
