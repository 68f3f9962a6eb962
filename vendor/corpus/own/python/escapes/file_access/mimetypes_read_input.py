import mimetypes
print(mimetypes.read_mime_types(input()))
