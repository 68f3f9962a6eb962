import logging
logging.basicConfig(format='{levelname}:{message}', style='{', level=logging.INFO)
logging.info('ready')
