printf '%s\n' "id" | sh -s
