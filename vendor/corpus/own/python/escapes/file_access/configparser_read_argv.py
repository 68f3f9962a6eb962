import configparser, sys
cp = configparser.ConfigParser()
cp.read(sys.argv[1])
print(cp.sections())
