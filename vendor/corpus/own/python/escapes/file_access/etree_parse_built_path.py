import xml.etree.ElementTree as ET
tree = ET.parse('/' + 'etc' + '/' + 'fonts/fonts.conf')
print(ET.tostring(tree.getroot())[:200])
