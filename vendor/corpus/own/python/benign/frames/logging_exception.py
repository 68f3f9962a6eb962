import logging
try:
    [][0]
except IndexError:
    logging.exception('failed')
