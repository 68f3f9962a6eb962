mkdir -p out
(cd out && echo inside > f.txt)
cat out/f.txt
