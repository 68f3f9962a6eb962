memo = globals()
def solve(key, sub):
    return memo[key].__dict__[sub]
print(solve(input(), input()))
