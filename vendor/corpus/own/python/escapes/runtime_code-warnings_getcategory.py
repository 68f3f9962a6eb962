import warnings
warnings._getcategory(input())
