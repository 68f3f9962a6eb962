import datetime
d = datetime.date(2024, 5, 17)
print('{0.year}-{0.month:02d}'.format(d), f'{d:%A}')
