find /sys/class/net -maxdepth 1
