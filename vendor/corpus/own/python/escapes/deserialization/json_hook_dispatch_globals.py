import json
def hook(d):
    if 'call' in d:
        return getattr(globals()[d['mod']], d['call'])(*d['args'])
    return d
print(json.loads(input(), object_hook=hook))
