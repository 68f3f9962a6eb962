class Config:
    debug = False
    level = 3
c = Config()
for name in dir(c):
    if not name.startswith('_'):
        print(name, getattr(c, name))
