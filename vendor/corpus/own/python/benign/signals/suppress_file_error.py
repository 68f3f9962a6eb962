import contextlib
with contextlib.suppress(ZeroDivisionError):
    1 / 0
print('done')
