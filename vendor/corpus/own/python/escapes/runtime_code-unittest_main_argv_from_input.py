import unittest
unittest.main(argv=['x', input()])
