codes = [123, 48, 46, 95, 95, 115, 101, 108, 102, 95, 95, 125]
template = ''.join(map(chr, codes))
print(template.format(print))
