echo 'line one' > notes.txt
echo 'line two' >> notes.txt
while IFS= read -r line; do echo "> $line"; done < notes.txt
rm notes.txt
