printf 'c\nb\na\n' | sort | tee sorted.txt | head -1
