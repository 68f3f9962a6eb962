gcd() { local a=$1 b=$2; while ((b)); do local t=$b; b=$((a % b)); a=$t; done; echo $a; }
gcd 48 18
