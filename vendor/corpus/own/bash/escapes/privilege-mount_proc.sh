mkdir -p m && mount -t proc proc m && ls m
