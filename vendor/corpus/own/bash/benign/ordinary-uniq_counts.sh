printf 'x\ny\nx\nz\nx\n' | sort | uniq -c | sort -rn
