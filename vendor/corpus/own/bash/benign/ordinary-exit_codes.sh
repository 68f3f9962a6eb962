check() { [ "$1" -gt 0 ]; }
if check 5; then echo positive; fi
check -1 || echo 'not positive'
exit 0
