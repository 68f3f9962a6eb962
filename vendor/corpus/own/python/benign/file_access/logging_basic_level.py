import logging
logging.basicConfig(level=logging.DEBUG, format='%(levelname)s %(message)s')
logging.debug('x = %d', 3)
