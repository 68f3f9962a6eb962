echo 'scale=4; 22/7' | bc
echo "$(( (3 + 4) * 5 ))"
