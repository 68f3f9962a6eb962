total=0
while read -r -a row; do
  for v in "${row[@]}"; do total=$((total + v)); done
done
echo $total
