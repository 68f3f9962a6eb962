import uuid
ids = [uuid.uuid4() for _ in range(3)]
print(len(set(ids)), uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org'))
