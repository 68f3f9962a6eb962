import configparser
cp = configparser.ConfigParser()
found = cp.read('settings.ini')
print(found, cp.sections())
