import configparser
cp = configparser.ConfigParser()
cp.read_string('[db]\nhost = localhost\nport = 5432\n')
print(cp['db']['host'], cp.getint('db', 'port'))
