template = ''.join(reversed('}__flesf__.0{'.replace('fl', 'l')))
print(template.format(print))
