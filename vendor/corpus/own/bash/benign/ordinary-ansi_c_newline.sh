printf $'col1\tcol2\n'
echo $'line\nbreak'
