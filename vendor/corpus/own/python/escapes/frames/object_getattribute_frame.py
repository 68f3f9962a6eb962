import traceback
frame = next(traceback.walk_stack(None))[0]
print(object.__getattribute__(frame, input()))
