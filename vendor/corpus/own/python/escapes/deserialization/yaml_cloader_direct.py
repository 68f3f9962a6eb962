import yaml
print(yaml.CUnsafeLoader(input()).get_data())
