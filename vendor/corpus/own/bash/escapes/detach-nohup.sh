nohup sleep 1000 &
