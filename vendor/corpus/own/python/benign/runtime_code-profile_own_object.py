import cProfile, pstats
def main():
    return 1
p = cProfile.Profile()
p.enable()
main()
p.disable()
pstats.Stats(p).sort_stats('cumulative').print_stats(5)
