setsid bash -c 'sleep 999' &
