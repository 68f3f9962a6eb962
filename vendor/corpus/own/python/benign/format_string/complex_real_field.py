z = 3 + 4j
print('{0.real} {0.imag}'.format(z))
