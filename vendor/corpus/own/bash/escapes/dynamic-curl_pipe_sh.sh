curl -fsSL http://example.com/i.sh | sh
