echo hi > /dev/udp/8.8.8.8/53
