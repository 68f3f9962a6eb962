event = {'type': 'click', 'pos': (1, 2)}
match event:
    case {'type': 'click', 'pos': (x, y)}:
        print(x + y)
