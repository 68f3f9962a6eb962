read line
bash -c "$line"
