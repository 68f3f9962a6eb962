import mimetypes
print(mimetypes.guess_type('report.pdf'), mimetypes.guess_extension('text/html'))
