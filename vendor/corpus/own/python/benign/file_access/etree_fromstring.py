import xml.etree.ElementTree as ET
root = ET.fromstring('<a><b>1</b><b>2</b></a>')
print(sum(int(b.text) for b in root.iter('b')))
