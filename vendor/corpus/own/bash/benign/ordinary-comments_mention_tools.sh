# This exercise used to need curl and /proc, but now it only counts words.
echo 'the quick brown fox' | wc -w
echo 'tip: use curl to download files'
