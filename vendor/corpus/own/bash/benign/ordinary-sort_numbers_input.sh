mapfile -t nums
printf '%s\n' "${nums[@]}" | sort -n | head -3
