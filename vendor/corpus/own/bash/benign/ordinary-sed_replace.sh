echo 'hello world' | sed 's/world/there/'
printf 'a,b,c\n' | sed -e 's/,/ /g'
