printf 'a b c\nd e f\n' | awk '{ print $2 }'
printf 'k=v\n' | sed -n 's/^k=//p'
