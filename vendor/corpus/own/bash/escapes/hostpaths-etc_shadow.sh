while IFS=: read u p rest; do echo $u; done < /etc/shadow
