import traceback
try:
    1 / 0
except Exception as e:
    print(''.join(traceback.TracebackException.from_exception(e, capture_locals=True).format()))
