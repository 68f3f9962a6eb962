while True:
    try:
        n = int(input())
        break
    except ValueError:
        print('again')
print(n * 2)
