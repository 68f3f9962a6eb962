import logging.config
logging.config.BaseConfigurator({}).resolve(input())
