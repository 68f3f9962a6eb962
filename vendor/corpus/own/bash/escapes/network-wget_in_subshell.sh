data=$(wget -qO- http://10.1.1.1/data)
echo "$data"
