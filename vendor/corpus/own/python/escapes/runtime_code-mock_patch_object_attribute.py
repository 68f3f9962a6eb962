import sys
from unittest.mock import patch
patch.object(sys, input(), 1).start()
