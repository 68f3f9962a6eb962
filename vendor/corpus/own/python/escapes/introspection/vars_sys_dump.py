import sys
for key, value in vars(sys).items():
    print(key, value)
