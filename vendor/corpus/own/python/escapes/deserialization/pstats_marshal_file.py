import pstats
pstats.Stats(input()).print_stats()
