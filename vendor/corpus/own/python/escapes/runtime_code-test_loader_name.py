import unittest, sys
unittest.TestLoader().loadTestsFromName(sys.argv[1])
