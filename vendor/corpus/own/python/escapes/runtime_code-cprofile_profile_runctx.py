import cProfile
p = cProfile.Profile()
p.runctx(input(), {}, {})
