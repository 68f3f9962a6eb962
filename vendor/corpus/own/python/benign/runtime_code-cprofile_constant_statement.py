import cProfile
def main():
    return sum(i * i for i in range(10000))
cProfile.run('main()')
