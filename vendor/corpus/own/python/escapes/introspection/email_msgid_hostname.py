from email.utils import make_msgid
print(make_msgid().split('@')[1])
