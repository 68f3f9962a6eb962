url=http://example.com/x
curl -s "$url" -o out.txt
cat out.txt
