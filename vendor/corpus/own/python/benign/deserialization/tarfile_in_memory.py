import tarfile, io
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w') as t:
    info = tarfile.TarInfo('a.txt')
    info.size = 2
    t.addfile(info, io.BytesIO(b'hi'))
buf.seek(0)
with tarfile.open(fileobj=buf) as t:
    print(t.getnames())
