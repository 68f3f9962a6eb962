printf '1\n2\n3\n' | xargs -n1 echo item
