import traceback
try:
    {}['k']
except KeyError:
    print(traceback.format_exc().splitlines()[-1])
