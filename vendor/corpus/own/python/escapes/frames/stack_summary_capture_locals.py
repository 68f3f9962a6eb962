import traceback
summary = traceback.StackSummary.extract(traceback.walk_stack(None), capture_locals=True)
for fs in summary:
    print(fs.locals)
