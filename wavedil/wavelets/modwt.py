"""The MODWT of Percival and Walden, as MATLAB's ``modwt``/``imodwt``/``modwtmra`` compute it.

Percival & Walden (2000), *Wavelet Methods for Time Series Analysis*, ch. 5. With the
scaling filter g, the wavelet filter h_l = (-1)^l g_{L-1-l}, g~ = g/sqrt(2), h~ = h/sqrt(2)
and V_0 = X (length N), the pyramid with circular filtering and up-sampled filters::

    W_j,t = sum_l h~_l V_{j-1, t - 2^(j-1) l mod N}
    V_j,t = sum_l g~_l V_{j-1, t - 2^(j-1) l mod N}

that is W_j,t = sum_l h~_j,l X_{t-l mod N} with the level-j equivalent filter
h~_j,l = h_j,l / 2^(j/2) (V_J likewise with g~_J). The inverse pyramid::

    V_{j-1,t} = sum_l h~_l W_{j, t + 2^(j-1) l mod N} + sum_l g~_l V_{j, t + 2^(j-1) l mod N}

and the multiresolution analysis X = D_1 + ... + D_J + S_J, where the detail D_j is the
inverse of W_j alone (the other coefficients zero) and the smooth S_J that of V_J alone.
For an orthogonal wavelet ||X||^2 = sum_j ||W_j||^2 + ||V_J||^2.

Conventions (MATLAB's): the output is ``(J + 1, N)``, W_1 .. W_J then V_J; the default
wavelet is ``"sym4"`` and the default level floor(log2 N) (any J >= 1 works: the filters
wrap around); a named wavelet's g and h are its reconstruction filters (MATLAB's LoR and
HiR from ``wfilters``, PyWavelets' ``rec_lo`` and ``rec_hi``; HiR = qmf(LoR) is PW's
h_l = (-1)^l g_{L-1-l}), so ``"db2"`` is PW's D(4). So is a ``FilterBank`` or a
``pywt.Wavelet``; a ``(g, h)`` pair is taken as given, as MATLAB's ``modwt(x, Lo, Hi)``.
R's waveslim names ``"d4"``, ``"d6"``, ``"d8"``, ``"d16"`` are db2, db3, db4, db8 and its
least-asymmetric ``"la8"``, ``"la16"``, ``"la20"`` are sym4, sym8, sym10 *time-reversed*
(waveslim's and PW's tables run the other way from MATLAB's): so ``modwt(x, "la8")`` is
waveslim's ``modwt(x, "la8")`` and differs from MATLAB's ``modwt(x, "sym4")`` (its MRA is
the same). ``boundary="reflection"`` transforms x followed by its mirror image (2N
coefficients), as MATLAB does; the inverse and the MRA then return the first N samples.

The arithmetic is the à trous engine's (``transform.atrous`` / ``iatrous``): a bank whose
analysis filters are g and h, causal alignment (n reads n, n - 2^(j-1), ...), periodic
boundary and the MODWT scaling ``norm=True``. ``atrous(x, "db2", norm=True)`` alone is not
this transform: it filters with ``dec_lo``, which is g reversed (and the orthogonal bank
whose ``dec_lo`` is g, by PyWavelets' quadrature-mirror rule, has ``dec_hi`` = -h).

Shape: ``x`` ``(..., N)`` with time on ``axis``; coefficients and MRA
``(levels + 1, *x.shape)``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..engine.checks import positive_int
from ..engine.finite import as_signal
from ..engine.params import axis_index
from .banks import FilterBank, WaveletLike, filter_bank
from .transform import AtrousResult, atrous, iatrous

__all__ = ["imodwt", "modwt", "modwtmra"]

BOUNDARIES = ("periodic", "reflection")
# R waveslim's names: (MATLAB name, time-reversed).
_WAVESLIM = {"d4": ("db2", False), "d6": ("db3", False), "d8": ("db4", False),
             "d16": ("db8", False), "la8": ("sym4", True), "la16": ("sym8", True),
             "la20": ("sym10", True)}


def modwt_bank(wavelet: WaveletLike = "sym4") -> FilterBank:
    """The bank whose analysis filters are PW's g and h (see the module docstring).

    Raises ValueError for a wavelet that is not orthogonal (to 1e-10), as MATLAB does.

    Shape: each filter (L,).
    """
    reverse, name = False, None
    if isinstance(wavelet, str) and wavelet.strip().lower() in _WAVESLIM:
        name = wavelet.strip().lower()
        wavelet, reverse = _WAVESLIM[name]
    if isinstance(wavelet, (tuple, list)) and len(wavelet) == 2:
        scaling, detail = (np.asarray(f, dtype=np.float64)[::-1] for f in wavelet)
        wavelet = (scaling, detail)  # decomposition filters, so rec_lo = g, rec_hi = h
    bank = filter_bank(wavelet)
    if not bank.orthogonal:
        raise ValueError(
            f"the MODWT needs an orthogonal wavelet (as Percival-Walden and MATLAB define "
            f"it); {bank.name!r} is not orthogonal to 1e-10. For biorthogonal banks use "
            f"wavedil.atrous / iatrous / mra")
    g, h = bank.rec_lo, bank.rec_hi
    if reverse:
        g = g[::-1]
        h = (-1.0) ** np.arange(g.size) * g[::-1]
    return FilterBank(name or bank.name, g, h, g[::-1], h[::-1], orthogonal=True)


def _check_boundary(boundary: str) -> None:
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")


def modwt(x: npt.ArrayLike, wavelet: WaveletLike = "sym4", levels: int | None = None,
          boundary: str = "periodic", axis: int = -1) -> np.ndarray:
    """The MODWT of ``x``: ``[W_1, ..., W_J, V_J]`` (Percival-Walden, MATLAB's ``modwt``).

    Args:
        x: the signal; float32 stays float32.
        wavelet: an orthogonal wavelet name (default ``"sym4"``; also waveslim's ``"la8"``
            etc.), a FilterBank, a ``pywt.Wavelet`` or a ``(g, h)`` pair.
        levels: J >= 1; None: floor(log2 N), at least 1.
        boundary: ``"periodic"`` or ``"reflection"`` (x then x reversed: 2N coefficients).

    Shape: ``x`` ``(..., N)``; returns ``(levels + 1, *x.shape)`` (2N on ``axis`` with
    ``"reflection"``).

    >>> w = modwt([1.0, 2.0, 3.0, 4.0], "haar", 1)
    >>> w.round(6).tolist()
    [[-1.5, 0.5, 0.5, 0.5], [2.5, 1.5, 2.5, 3.5]]
    """
    bank = modwt_bank(wavelet)
    _check_boundary(boundary)
    x = as_signal(x, "x")
    if x.ndim == 0:
        raise ValueError(f"x must have a time axis, got a scalar of shape {x.shape}")
    axis = axis_index(axis, x.shape)
    if boundary == "reflection":
        x = np.concatenate([x, np.flip(x, axis)], axis=axis)
    length = x.shape[axis]
    if levels is None:
        levels = max(int(length).bit_length() - 1, 1)
    levels = positive_int(levels, "levels")
    return atrous(x, bank, levels, alignment="causal", boundary="periodic", norm=True,
                  axis=axis).stack()


def _as_coefficients(w: npt.ArrayLike, axis: int) -> tuple[np.ndarray, int]:
    """``w`` checked as ``(levels + 1, ..., N)``; and ``axis`` as a negative signal axis."""
    w = as_signal(w, "w")
    if w.ndim < 2 or w.shape[0] < 2:
        raise ValueError(
            f"w must be the (levels + 1, ..., N) array modwt returns, with levels >= 1, got "
            f"shape {w.shape}")
    signal_ndim = w.ndim - 1
    axis = axis_index(axis, w.shape[1:], "the coefficients' signals")
    return w, axis if axis < 0 else axis - signal_ndim


def _inverse(details: np.ndarray, approx: np.ndarray, bank: FilterBank, axis: int) -> np.ndarray:
    return iatrous(AtrousResult(details, approx, bank, "causal", "periodic", True, axis))


def _crop(signal: np.ndarray, boundary: str, axis: int) -> np.ndarray:
    if boundary == "periodic":
        return signal
    length = signal.shape[axis]
    if length % 2:
        raise ValueError(f"boundary='reflection' needs coefficients of even length 2N, got "
                         f"{length}")
    return np.take(signal, np.arange(length // 2), axis=axis)


def imodwt(w: npt.ArrayLike, wavelet: WaveletLike = "sym4", boundary: str = "periodic",
           axis: int = -1) -> np.ndarray:
    """The signal whose MODWT is ``w`` (the inverse pyramid; MATLAB's ``imodwt``).

    ``wavelet`` and ``boundary`` must be those given to ``modwt``.

    Shape: ``w`` ``(levels + 1, ..., N)``; returns ``w.shape[1:]`` (N/2 on ``axis`` with
    ``"reflection"``).
    """
    bank = modwt_bank(wavelet)
    _check_boundary(boundary)
    w, axis = _as_coefficients(w, axis)
    return _crop(_inverse(w[:-1], w[-1], bank, axis), boundary, axis)


def modwtmra(w: npt.ArrayLike, wavelet: WaveletLike = "sym4", boundary: str = "periodic",
             axis: int = -1) -> np.ndarray:
    """The MRA from MODWT coefficients: ``[D_1, ..., D_J, S_J]``, summing to the signal.

    D_j is the inverse MODWT of W_j alone, S_J that of V_J alone (MATLAB's ``modwtmra``).

    Shape: ``w`` ``(levels + 1, ..., N)``; returns the same shape (N/2 on ``axis`` with
    ``"reflection"``).
    """
    bank = modwt_bank(wavelet)
    _check_boundary(boundary)
    w, axis = _as_coefficients(w, axis)
    levels, zero = w.shape[0] - 1, np.zeros_like(w[0])
    parts = []
    for j in range(1, levels + 1):
        details = np.zeros((j,) + zero.shape, w.dtype)
        details[j - 1] = w[j - 1]
        parts.append(_crop(_inverse(details, zero, bank, axis), boundary, axis))
    smooth = _inverse(np.zeros((levels,) + zero.shape, w.dtype), w[-1], bank, axis)
    parts.append(_crop(smooth, boundary, axis))
    return np.stack(parts)
