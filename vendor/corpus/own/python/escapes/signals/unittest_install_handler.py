import unittest
unittest.installHandler()
while True:
    pass
