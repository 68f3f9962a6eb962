import logging
logging.basicConfig(filename=input())
logging.warning('written where stdin says')
