import sys
wanted = input()
for key, fn in vars(sys).items():
    if key == wanted:
        print(fn())
