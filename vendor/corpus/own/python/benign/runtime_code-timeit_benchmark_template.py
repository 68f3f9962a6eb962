from timeit import timeit
def count(n):
    return bin(n).count('1')
def bench(number):
    setup = 'import __main__ as z'
    print(timeit(f'z.count({number})', setup=setup, number=100))
    print(timeit('z.count(%d)' % number, setup=setup, number=100))
    print(timeit('z.count({})'.format(number), setup=setup, number=100))
for number in (25, 37):
    bench(number)
