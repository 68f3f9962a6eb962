import time
print(time.clock_gettime(time.CLOCK_BOOTTIME))
