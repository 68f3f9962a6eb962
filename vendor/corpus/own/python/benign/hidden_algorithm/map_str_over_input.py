nums = list(map(int, input().split()))
print(sum(nums), max(nums, default=0))
