for attempt in range(3):
    try:
        value = int('42')
        break
    except ValueError:
        continue
print(value)
