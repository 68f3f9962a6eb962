read -r w
r=$(echo "$w" | rev)
if [ "$w" = "$r" ]; then echo yes; else echo no; fi
