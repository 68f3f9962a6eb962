import json, logging.config
logging.config.dictConfig(json.loads(input()))
