template = input()
print(template.replace('{name}', 'Ann'))
