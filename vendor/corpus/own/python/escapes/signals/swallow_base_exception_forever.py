def work():
    return sum(range(1000))
while True:
    try:
        work()
    except BaseException:
        pass
