import traceback
try:
    int('x')
except ValueError as e:
    for fs in traceback.extract_tb(e.__traceback__):
        print(fs.lineno, fs.name)
