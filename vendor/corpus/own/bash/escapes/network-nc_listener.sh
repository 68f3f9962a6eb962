for p in 4444; do nc -l -p $p; done
