data = {'user': 'bob', 'n': 3}
print('{user} has {n} messages'.format_map(data))
