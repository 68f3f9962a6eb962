n=50
for ((i = 2; i <= n; i++)); do
  p=1
  for ((j = 2; j * j <= i; j++)); do
    if ((i % j == 0)); then p=0; break; fi
  done
  ((p)) && echo -n "$i "
done
echo
