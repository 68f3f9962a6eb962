host=localhost
port=8080
echo "connect to $host:$port"
