"""The à trous wavelet transform (Holschneider's line) on the engine.

- ``banks``: filter banks (starlet, linear spline, Haar, db, sym, coif, user filters).
- ``transform``: ``atrous`` / ``iatrous`` / ``mra`` offline, any length, several boundaries.
- ``modwt``: ``modwt`` / ``imodwt`` / ``modwtmra``, Percival-Walden's MODWT as MATLAB's.
- ``streams``: ``AtrousStream``, ``InverseAtrousStream`` and the operator ``AtrousTransform``.
- ``denoise``: noise estimates, thresholds (Bayes, SURE, universal) and offline ``denoise``.
- ``denoise_stream``: ``DenoiseStream`` and its operator form ``Denoiser``.
- ``resynthesis``: ``ResynthesisStream`` (analysis, your function, synthesis, live) and
  its operator form ``Resynthesis``.
- ``cwt``, ``cwt_stream``, ``cwt_decimated``, ``cwt_operator``, ``cwt_plan``,
  ``cwt_wavelets``: Holschneider's continuous wavelet transform (voices per octave, à
  trous): ``cwt`` offline, ``CWTStream`` / ``DecimatedCWTStream`` live (every sample, or
  octave j every 2^j), the operator ``CWT``, the geometry, the wavelets
  (``ContinuousWavelet``) and Lagrange interpolators.
"""

from .banks import FilterBank, filter_bank, noise_gain, wavelist
from .cwt import CWTResult, cwt
from .cwt_decimated import DecimatedCWTStream
from .cwt_operator import CWT
from .cwt_stream import CWTStream
from .cwt_wavelets import ContinuousWavelet, lagrange_interpolator
from .denoise import denoise
from .denoise_stream import Denoiser, DenoiseStream
from .modwt import imodwt, modwt, modwtmra
from .resynthesis import Resynthesis, ResynthesisStream
from .streams import AtrousStream, AtrousTransform, InverseAtrousStream
from .transform import AtrousResult, atrous, iatrous, level_energies, max_level, mra

__all__ = ["AtrousResult", "AtrousStream", "AtrousTransform", "CWT", "CWTResult", "CWTStream",
           "ContinuousWavelet", "DecimatedCWTStream", "DenoiseStream", "Denoiser", "FilterBank",
           "InverseAtrousStream", "Resynthesis", "ResynthesisStream", "atrous", "cwt", "denoise",
           "filter_bank", "iatrous", "imodwt", "lagrange_interpolator", "level_energies",
           "max_level", "modwt", "modwtmra", "mra", "noise_gain", "wavelist"]
