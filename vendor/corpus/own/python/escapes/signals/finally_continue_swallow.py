while True:
    try:
        sum(range(10 ** 6))
    finally:
        continue
