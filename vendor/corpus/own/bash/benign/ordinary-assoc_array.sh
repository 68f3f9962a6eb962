declare -A age
age[alice]=30
age[bob]=25
for k in "${!age[@]}"; do echo "$k ${age[$k]}"; done | sort
