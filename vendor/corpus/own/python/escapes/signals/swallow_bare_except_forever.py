while 1:
    try:
        x = [0] * 1000
    except:
        continue
