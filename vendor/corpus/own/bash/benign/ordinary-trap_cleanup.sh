tmp=work.tmp
trap 'rm -f "$tmp"' EXIT
echo data > "$tmp"
wc -c < "$tmp"
