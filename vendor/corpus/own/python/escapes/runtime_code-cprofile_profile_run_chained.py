import sys, cProfile
cProfile.Profile().run(sys.argv[1])
