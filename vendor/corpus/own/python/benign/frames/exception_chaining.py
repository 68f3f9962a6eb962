class AppError(Exception):
    pass
try:
    try:
        1 / 0
    except ZeroDivisionError as e:
        raise AppError('bad') from e
except AppError as e:
    print(type(e.__cause__).__name__)
