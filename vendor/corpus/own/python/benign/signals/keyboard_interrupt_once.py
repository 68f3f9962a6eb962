try:
    total = sum(range(10 ** 5))
    print(total)
except KeyboardInterrupt:
    print('interrupted')
