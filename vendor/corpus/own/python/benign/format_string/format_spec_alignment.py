for n in [1, 22, 333]:
    print('{:>6}|{:<6}|{:^6}'.format(n, n, n), f'{n:08.3f}')
