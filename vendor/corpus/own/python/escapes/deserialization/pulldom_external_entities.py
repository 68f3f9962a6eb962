from xml.dom import pulldom
from xml.sax.handler import feature_external_ges as ext
import xml.sax
p = xml.sax.make_parser()
p.setFeature(ext, 1)
for event, node in pulldom.parseString(input(), p):
    print(event)
