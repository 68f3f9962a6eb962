from uuid import uuid1 as stamp
print(stamp().node)
