import numpy.lib.format as fmt, io, base64
print(fmt.read_array(io.BytesIO(base64.b64decode(input())), allow_pickle=True))
