import io
buf = io.StringIO()
buf.write('hello')
print(buf.getvalue(), io.BytesIO(b'abc').read())
