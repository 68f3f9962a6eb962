from xml.dom import minidom
doc = minidom.parseString('<note><to>Tove</to></note>')
print(doc.getElementsByTagName('to')[0].firstChild.data)
