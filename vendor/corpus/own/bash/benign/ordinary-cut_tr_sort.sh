printf 'b:2\na:1\nc:3\n' | cut -d: -f1 | tr a-z A-Z | sort
