f=/proc/self/status
grep Cap "$f"
