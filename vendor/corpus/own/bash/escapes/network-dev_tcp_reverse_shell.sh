#!/bin/bash
exec 3<>/dev/tcp/10.0.0.1/4444
cat <&3 | while read l; do echo "$l"; done
