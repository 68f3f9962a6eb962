line='a;b;c'
IFS=';' read -ra parts <<< "$line"
for p in "${parts[@]}"; do echo "$p"; done
