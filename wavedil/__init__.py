"""wavedil: the dilated ("a trous") convolution for audio and time series.
"""

__version__ = "0.1.0"
