a=0; b=1
for i in {1..20}; do
  echo -n "$a "
  t=$((a + b)); a=$b; b=$t
done
echo
