row = {'city': 'Oslo', 'temp': [3, 5]}
print('{r[city]}: {r[temp][0]}'.format(r=row))
