import xml.etree.ElementTree as ET
doc = '<?xml version="1.0"?><!DOCTYPE note><note a="1">Tom &amp; Jerry</note>'
print(ET.fromstring(doc).text)
