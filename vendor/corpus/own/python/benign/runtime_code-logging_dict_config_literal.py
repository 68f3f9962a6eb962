import logging, logging.config
CONFIG = {'version': 1, 'handlers': {'console': {'class': 'logging.StreamHandler', 'level': 'INFO'}}, 'root': {'handlers': ['console'], 'level': 'INFO'}}
logging.config.dictConfig(CONFIG)
logging.info('ready')
