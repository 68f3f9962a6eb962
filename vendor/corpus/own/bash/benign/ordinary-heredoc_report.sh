name=World
cat <<EOF
Report for $name
Total: $((2 + 3))
EOF
