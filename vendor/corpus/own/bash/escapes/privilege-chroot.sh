chroot / /bin/sh
