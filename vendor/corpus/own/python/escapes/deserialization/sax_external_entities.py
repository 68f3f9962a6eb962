import xml.sax, xml.sax.handler, io
parser = xml.sax.make_parser()
parser.setFeature(xml.sax.handler.feature_external_ges, True)
parser.setContentHandler(xml.sax.handler.ContentHandler())
parser.parse(io.StringIO(input()))
