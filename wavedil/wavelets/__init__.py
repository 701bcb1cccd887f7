"""The à trous wavelet transform (Holschneider's line) on the engine.

- ``banks``: filter banks (starlet, linear spline, Haar, db, sym, coif, user filters).
- ``transform``: ``atrous`` / ``iatrous`` / ``mra`` offline, any length, several boundaries.
- ``modwt``: ``modwt`` / ``imodwt`` / ``modwtmra``, Percival-Walden's MODWT as MATLAB's.
- ``streams``: ``AtrousStream``, ``InverseAtrousStream`` and the operator ``AtrousTransform``.
- ``denoise``: noise estimates, thresholds (Bayes, SURE, universal) and offline ``denoise``.
- ``denoise_stream``: ``DenoiseStream`` and its operator form ``Denoiser``.
- ``resynthesis``: ``ResynthesisStream`` (analysis, your function, synthesis, live) and
  its operator form ``Resynthesis``.
"""

from .banks import FilterBank, filter_bank, noise_gain, wavelist
from .denoise import denoise
from .denoise_stream import Denoiser, DenoiseStream
from .modwt import imodwt, modwt, modwtmra
from .resynthesis import Resynthesis, ResynthesisStream
from .streams import AtrousStream, AtrousTransform, InverseAtrousStream
from .transform import AtrousResult, atrous, iatrous, level_energies, max_level, mra

__all__ = ["AtrousResult", "AtrousStream", "AtrousTransform", "DenoiseStream", "Denoiser",
           "FilterBank", "InverseAtrousStream", "Resynthesis", "ResynthesisStream", "atrous",
           "denoise", "filter_bank", "iatrous", "imodwt", "level_energies", "max_level",
           "modwt", "modwtmra", "mra", "noise_gain", "wavelist"]
