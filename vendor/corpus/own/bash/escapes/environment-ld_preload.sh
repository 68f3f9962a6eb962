LD_PRELOAD=./hook.so ls
