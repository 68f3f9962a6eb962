import yaml
print(yaml.safe_load('a: 1\nb: [x, y]\n'))
print(yaml.safe_dump({'k': 1}))
