import warnings
print('{0._module.sys.modules}'.format(warnings.catch_warnings()))
