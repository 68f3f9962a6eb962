while getopts 'n:v' opt; do
  case $opt in
    n) name=$OPTARG ;;
    v) verbose=1 ;;
  esac
done
echo "name=${name:-none} verbose=${verbose:-0}"
