import unittest.signals as us
us.signal.signal(2, us.signal.SIG_IGN)
