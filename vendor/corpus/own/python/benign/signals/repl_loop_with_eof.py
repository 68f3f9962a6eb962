while True:
    try:
        line = input()
    except EOFError:
        break
    except KeyboardInterrupt:
        print()
        continue
    print(line.upper())
