def g():
    yield 1
gen = g()
print('{0.gi_frame.f_back.f_globals}'.format(gen))
