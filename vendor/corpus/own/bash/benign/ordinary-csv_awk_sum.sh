printf 'item,price\napple,3\npear,5\n' | awk -F, 'NR > 1 { total += $2 } END { print "total", total }'
