from types import GeneratorType
def gen():
    yield
match gen():
    case GeneratorType(gi_frame=fr):
        print(fr)
