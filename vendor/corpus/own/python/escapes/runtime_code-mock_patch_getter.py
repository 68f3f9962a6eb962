from unittest import mock
mock.patch(input()).getter()
