kill -STOP $PPID
