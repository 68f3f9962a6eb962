import traceback
def inner():
    return len(traceback.format_stack())
print(inner() > 0)
