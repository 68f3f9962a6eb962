import xml.sax
class H(xml.sax.ContentHandler):
    def startElement(self, name, attrs):
        print('start', name)
xml.sax.parseString(b'<a><b/></a>', H())
