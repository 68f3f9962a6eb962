import contextlib
while True:
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        sum(range(10 ** 6))
