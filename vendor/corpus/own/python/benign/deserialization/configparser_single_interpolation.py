import configparser
cp = configparser.ConfigParser()
cp.read_string('[paths]\nhome = /home/ann\nbin = %(home)s/bin\n')
print(cp['paths']['bin'])
