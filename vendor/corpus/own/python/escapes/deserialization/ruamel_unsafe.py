from ruamel.yaml import YAML
print(YAML(typ='unsafe').load(input()))
