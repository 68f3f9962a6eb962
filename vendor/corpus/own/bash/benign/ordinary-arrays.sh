names=(alice bob carol)
for n in "${names[@]}"; do echo "hi $n"; done
echo "count: ${#names[@]}"
