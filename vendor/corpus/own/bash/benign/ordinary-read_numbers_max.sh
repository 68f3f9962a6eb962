max=
while read -r n; do
  if [ -z "$max" ] || [ "$n" -gt "$max" ]; then max=$n; fi
done
echo "max: $max"
