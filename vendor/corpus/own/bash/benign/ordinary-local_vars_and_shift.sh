show() { local first=$1; shift; echo "$first then $*"; }
show a b c
