import tomllib
print(tomllib.loads('title = "x"\n[owner]\nname = "Tom"\n'))
