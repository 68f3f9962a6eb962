import xml.sax
xml.sax.make_parser([input()])
