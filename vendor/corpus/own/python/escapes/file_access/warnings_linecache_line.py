import warnings
warnings.showwarning('x', UserWarning, input(), 1)
