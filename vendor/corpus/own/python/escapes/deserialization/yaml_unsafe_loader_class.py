import yaml
print(yaml.loader.UnsafeLoader(input()).get_single_data())
