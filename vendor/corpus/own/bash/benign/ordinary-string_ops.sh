s='Hello, World'
echo "${s,,}" "${s^^}" "${#s}" "${s:7:5}" "${s/World/Bash}"
