import py_compile
print(py_compile.compile(input(), cfile='x.pyc'))
