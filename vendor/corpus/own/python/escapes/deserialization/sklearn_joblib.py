from sklearn.externals import joblib
print(joblib.load(input()))
