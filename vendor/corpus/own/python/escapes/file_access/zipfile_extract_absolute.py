import zipfile, io, base64
archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(input())))
archive.extractall('/')
