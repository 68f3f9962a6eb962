i=0
until [ $i -ge 5 ]; do
  echo "i=$i"
  i=$((i + 1))
done
