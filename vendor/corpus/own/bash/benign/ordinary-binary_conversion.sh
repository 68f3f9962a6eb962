n=42
bin=''
while ((n > 0)); do bin="$((n % 2))$bin"; n=$((n / 2)); done
echo "$bin"
