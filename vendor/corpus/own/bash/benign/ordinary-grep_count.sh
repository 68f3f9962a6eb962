printf 'apple\nbanana\napricot\n' > fruits.txt
grep -c '^a' fruits.txt
grep -v an fruits.txt | wc -l
