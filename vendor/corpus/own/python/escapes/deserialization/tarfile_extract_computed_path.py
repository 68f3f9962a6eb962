import tarfile, io, base64, sys
with tarfile.open(fileobj=io.BytesIO(base64.b64decode(sys.stdin.readline()))) as t:
    t.extractall(sys.stdin.readline().strip())
