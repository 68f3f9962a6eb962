import unittest
from unittest import mock
import random
class T(unittest.TestCase):
    def test_roll(self):
        with mock.patch('random.randint', return_value=4):
            self.assertEqual(random.randint(1, 6), 4)
    @mock.patch.object(random, 'random', return_value=0.5)
    def test_random(self, m):
        self.assertEqual(random.random(), 0.5)
unittest.main(argv=['t'], exit=False)
