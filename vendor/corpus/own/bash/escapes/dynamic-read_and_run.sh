read -r cmd
$cmd
