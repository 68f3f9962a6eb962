import io
print(io.open_code(input()).read().decode())
