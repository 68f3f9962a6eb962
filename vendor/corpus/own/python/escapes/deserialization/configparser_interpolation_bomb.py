import configparser
cp = configparser.ConfigParser()
cp.read_string('[s]\na = xxxxxxxxxx\nb = %(a)s%(a)s%(a)s%(a)s%(a)s%(a)s%(a)s%(a)s\nc = %(b)s%(b)s%(b)s%(b)s%(b)s%(b)s%(b)s%(b)s\nd = %(c)s%(c)s%(c)s%(c)s%(c)s%(c)s%(c)s%(c)s\n')
print(len(cp['s']['d']))
