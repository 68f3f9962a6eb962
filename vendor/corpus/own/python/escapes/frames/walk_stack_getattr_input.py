import traceback
for frame, _ in traceback.walk_stack(None):
    print(getattr(frame, input()))
