import cProfile
cProfile.run(input())
