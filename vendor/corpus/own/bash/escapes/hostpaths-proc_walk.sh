for p in /proc/[0-9]*; do cat "$p/cmdline"; echo; done
