perl -e 'exec "/bin/sh"'
