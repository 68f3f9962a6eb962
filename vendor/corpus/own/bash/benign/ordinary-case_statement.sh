read -r cmd
case "$cmd" in
  start) echo starting ;;
  stop) echo stopping ;;
  *) echo "unknown: $cmd" ;;
esac
