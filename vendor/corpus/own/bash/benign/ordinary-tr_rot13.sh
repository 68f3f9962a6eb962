echo 'Hello' | tr 'A-Za-z' 'N-ZA-Mn-za-m'
