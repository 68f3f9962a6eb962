from xml.dom import minidom
print(minidom.parse(input()).toxml())
