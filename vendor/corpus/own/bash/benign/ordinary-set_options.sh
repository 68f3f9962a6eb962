set -euo pipefail
IFS=$'\n\t'
items=(a b c)
echo "${items[*]}"
