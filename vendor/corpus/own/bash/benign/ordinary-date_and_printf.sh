printf '%-10s|%5d\n' apples 3 pears 12
printf '%.2f\n' 3.14159
