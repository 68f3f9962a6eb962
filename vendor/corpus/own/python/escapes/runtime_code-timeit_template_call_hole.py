import timeit
timeit.timeit(f'{chr(95) * 2}import__(1)', number=1)
