from yaml import FullLoader as F
print(F(input()).get_single_data())
