import uuid
print(hex(uuid.getnode()))
