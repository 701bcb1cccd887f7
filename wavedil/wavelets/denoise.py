"""Wavelet denoising with the à trous transform: noise estimate, thresholds, offline denoise.

The recipe (Donoho & Johnstone; Chang, Yu & Vetterli for BayesShrink):

1. transform x, J levels;
2. noise level (``noise_sigma``), unless ``sigma`` is given: per level
   ``median(|w_j|) / 0.6745 / g_j`` (``g_j`` is the bank's noise gain at level j: the std
   of w_j for unit white noise, derived from the filters, ``detail_gains``), and sigma the
   smallest of these over the levels with enough coefficients. A signal only raises the
   estimate of the levels it occupies; the finest level alone (Donoho's recipe) measures a
   tone or a sweep above a quarter of the sample rate instead of the noise, and its
   thresholds then remove the signal;
3. per level, ``sigma_j = sigma * g_j`` and a threshold ``lambda_j``:
   ``"bayes"`` ``sigma_j^2 / sqrt(max(mean(w_j^2) - sigma_j^2, 0))`` (level adaptive, the
   default), ``"universal"`` ``sigma_j sqrt(2 ln T)``, ``"sure"`` the minimiser of Stein's
   unbiased risk estimate (at most the universal threshold), or a number k:
   ``k * sigma_j``;
4. shrink the details (``"soft"``, ``"hard"`` or ``"garrote"``), keep the approximation;
5. invert.

The statistics are taken per signal (per row of the leading axes), over its finite
coefficients only: under ``wavedil.nonfinite("confine")`` a NaN or infinite sample spoils
the outputs whose receptive field holds it, not the noise level and the thresholds of the
whole signal (``finite_only``). Step 5 is exact for
every boundary: a difference bank sums its components, an SWT bank with a boundary other
than periodic runs the periodic transform on a stand-in of the signal extended by that
boundary forever (``wavedil.wavelets.boundaries.stand_in``: one period of the symmetric or
reflect extension, at most 2T; ``reach`` zero or edge samples added), then crops.

Shape: ``x`` ``(..., T)`` with time on ``axis``; the result has the shape of ``x``.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
import numpy.typing as npt

from ..engine.checks import positive_int
from ..engine.params import finite_number
from .banks import FilterBank, WaveletLike, filter_bank, noise_gain
from .boundaries import stand_in
from .guards import check_memory
from .transform import (
    ALIGNMENTS,
    BOUNDARIES,
    AtrousResult,
    _analysis,
    _as_batch,
    iatrous,
    reach,
)

THRESHOLDS = ("bayes", "sure", "universal")
MODES = ("soft", "hard", "garrote")
MAD_TO_SIGMA = 0.6745  # median(|N(0, 1)|)
SIGMA_COUNT = 64  # noise_sigma uses level j if it has at least SIGMA_COUNT * 2^j coefficients


# -- noise gains and the noise level -------------------------------------------------------

def _causal_lowpass_responses(bank, levels: int) -> list[np.ndarray]:
    """Impulse responses x -> c_j (j = 0..levels), causal, each starting at lag 0."""
    responses = [np.ones(1)]
    for j in range(1, levels + 1):
        previous, d = responses[-1], 2 ** (j - 1)
        out = np.zeros(previous.size + (bank.length - 1) * d)
        for t, tap in enumerate(bank.dec_lo):
            out[t * d : t * d + previous.size] += tap * previous
        responses.append(out)
    return responses


def detail_gains(wavelet: WaveletLike, levels: int, alignment: str = "centered",
                 norm: bool = False) -> np.ndarray:
    """``g_j``, j = 1..levels: the std of w_j when x is unit white noise.

    For an SWT bank and for a difference bank in centred or pywt alignment this is
    ``wavedil.wavelets.banks.noise_gain``; the causal difference detail
    ``w_j[n] = c_{j-1}[n] - c_j[n]`` has another filter (both causal), whose norm is
    computed here the same way: the L2 norm of the impulse response.

    Shape: ``(levels,)`` float64.
    """
    bank = filter_bank(wavelet)
    levels = positive_int(levels, "levels")
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    if not (bank.difference and alignment == "causal"):
        return np.array([noise_gain(bank, j, norm) for j in range(1, levels + 1)])
    responses = _causal_lowpass_responses(bank, levels)
    gains = []
    for j in range(1, levels + 1):
        detail = -responses[j]
        detail[: responses[j - 1].size] += responses[j - 1]
        gains.append(math.sqrt(float(np.sum(detail**2))) * (2 ** (-j / 2) if norm else 1.0))
    return np.array(gains)


def finite_only(w: np.ndarray) -> np.ndarray | None:
    """None if every value of ``w`` is finite, else a float64 copy with the non-finite
    ones as NaN, for the ``np.nan*`` reductions: the statistics then read the finite
    coefficients only (a row with none gives NaN)."""
    if w.dtype.kind not in "fc" or np.isfinite(w).all():
        return None
    return np.where(np.isfinite(w), w, np.nan).astype(np.float64, copy=False)


def _nan_reduce(reduce, w: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # a row without a finite value: NaN, said above
        warnings.simplefilter("ignore", RuntimeWarning)
        return reduce(w, axis=-1)


def estimate_sigma(detail: npt.ArrayLike, gain: float = 1.0) -> np.ndarray:
    """The white-noise std from one level's details: ``median(|w_j|) / 0.6745 / g_j``
    (over the finite ones: ``finite_only``).

    Shape: ``(..., T)`` in (time last), ``(...)`` out.
    """
    w = np.abs(np.asarray(detail))
    masked = finite_only(w)
    median = np.median(w, axis=-1) if masked is None else _nan_reduce(np.nanmedian, masked)
    return median / MAD_TO_SIGMA / gain


def noise_sigma(details: npt.ArrayLike, gains: npt.ArrayLike) -> np.ndarray:
    """The white-noise std from all levels: the smallest ``estimate_sigma(w_j, g_j)`` over
    level 1 and every level j with ``T >= SIGMA_COUNT * 2^j`` coefficients (a level's
    coefficients are correlated over about 2^j samples: fewer make a noisy estimate, and
    the smallest of noisy estimates is biased low).

    Shape: ``details`` ``(levels, ..., T)``, ``gains`` ``(levels,)``; ``(...)`` out.
    """
    details = np.asarray(details)
    gains = np.asarray(gains, dtype=np.float64)
    length = details.shape[-1]
    used = max(1, sum(1 for j in range(1, details.shape[0] + 1)
                      if length >= SIGMA_COUNT * 2**j))
    per_level = [estimate_sigma(details[j], gains[j]) for j in range(used)]
    return np.fmin.reduce(per_level, axis=0)  # (a level without finite values: skipped)


# -- shrinkage and threshold rules ----------------------------------------------------------

def shrink(w: npt.ArrayLike, threshold: npt.ArrayLike, mode: str = "soft") -> np.ndarray:
    """Shrink coefficients: ``"soft"`` ``sign(w) max(|w| - t, 0)``, ``"hard"``
    ``w [|w| >= t]``, ``"garrote"`` ``w - t^2 / w`` for ``|w| > t`` else 0 (as
    ``pywt.threshold``).

    ``threshold`` broadcasts against ``w``; the dtype of ``w`` is kept.

    >>> shrink(np.array([-3.0, -1.0, 0.5, 2.0]), 1.0, "soft")
    array([-2., -0.,  0.,  1.])
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    w = np.asarray(w)
    t = np.asarray(threshold, dtype=w.dtype)
    magnitude = np.abs(w)
    if mode == "soft":
        return np.sign(w) * np.maximum(magnitude - t, 0)
    if mode == "hard":  # |w| == t is kept, as in pywt.threshold
        return np.where(magnitude >= t, w, 0).astype(w.dtype, copy=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(magnitude > t, w - t * t / w, 0).astype(w.dtype, copy=False)


def bayes_threshold(w: npt.ArrayLike, sigma_j: npt.ArrayLike) -> np.ndarray:
    """BayesShrink: ``sigma_j^2 / sigma_x``, ``sigma_x^2 = max(mean(w^2) - sigma_j^2, 0)``.

    Where ``sigma_x`` is 0 (the level looks like pure noise) the threshold is
    ``max |w|``: everything goes. Shape: ``(..., T)`` and ``(...)`` in, ``(...)`` out.
    """
    w = np.asarray(w, dtype=np.float64)
    masked = finite_only(w)
    if masked is not None:  # the finite coefficients only
        return bayes_threshold_from(_nan_reduce(np.nanmean, masked * masked),
                                    _nan_reduce(np.nanmax, np.abs(masked)), sigma_j)
    return bayes_threshold_from(np.mean(w * w, axis=-1), np.max(np.abs(w), axis=-1, initial=0.0),
                                sigma_j)


def bayes_threshold_from(mean_square: npt.ArrayLike, max_abs: npt.ArrayLike,
                         sigma_j: npt.ArrayLike) -> np.ndarray:
    """``bayes_threshold`` from a level's statistics, ``mean(w^2)`` and ``max |w|`` (as a
    reduction over blocks gives them: ``wavedil.dask``). Shape: ``(...)`` each."""
    sigma_j = np.asarray(sigma_j, dtype=np.float64)
    signal_var = np.maximum(np.asarray(mean_square, np.float64) - sigma_j**2, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = sigma_j**2 / np.sqrt(signal_var)
    return np.where(signal_var > 0, t, np.asarray(max_abs, np.float64))


def universal_threshold(sigma_j: npt.ArrayLike, length: int) -> np.ndarray:
    """VisuShrink: ``sigma_j sqrt(2 ln T)``."""
    return np.asarray(sigma_j, dtype=np.float64) * math.sqrt(2 * math.log(max(length, 1)))


def sure_threshold(w: npt.ArrayLike, sigma_j: npt.ArrayLike) -> np.ndarray:
    """``min(t_SURE, t_universal)``: the soft threshold minimising Stein's unbiased risk
    estimate, capped by the universal threshold (Matlab's heursure without its sparsity
    test).

    On ``z = w / sigma_j``: ``SURE(t) = T - 2 #{|z| <= t} + sum min(z^2, t^2)``, minimised
    over ``t`` in ``{|z|}``. Shape: ``(..., T)`` and ``(...)`` in, ``(...)`` out.
    """
    w = np.asarray(w, dtype=np.float64)
    sigma_j = np.asarray(sigma_j, dtype=np.float64)
    n = w.shape[-1]
    if n == 0:
        return np.zeros(w.shape[:-1])
    if finite_only(w) is not None:  # row by row, on its finite coefficients
        rows = w.reshape(-1, n)
        sigmas = np.broadcast_to(sigma_j, w.shape[:-1]).reshape(-1)
        return np.array([sure_threshold(row[np.isfinite(row)], s) if np.isfinite(row).any()
                         else np.nan for row, s in zip(rows, sigmas)]).reshape(w.shape[:-1])
    safe = np.where(sigma_j > 0, sigma_j, 1.0)
    squares = np.sort((w / safe[..., None]) ** 2, axis=-1)
    k = np.arange(1, n + 1)
    risk = n - 2 * k + np.cumsum(squares, axis=-1) + (n - k) * squares
    best = np.take_along_axis(squares, np.argmin(risk, axis=-1)[..., None], -1)[..., 0]
    t = np.minimum(np.sqrt(best), math.sqrt(2 * math.log(n)))
    return np.where(sigma_j > 0, t * sigma_j, 0.0)


def level_thresholds(details: npt.ArrayLike, sigma: npt.ArrayLike, gains: npt.ArrayLike,
                     threshold: str | float = "bayes") -> np.ndarray:
    """``lambda_j`` per level and signal row.

    Args:
        details: ``(levels, ..., T)`` (time last).
        sigma: the noise std per row, ``(...)`` or a scalar.
        gains: ``(levels,)`` noise gains (``detail_gains``).
        threshold: ``"bayes"``, ``"sure"``, ``"universal"`` or a number k (``k sigma_j``).

    Shape: ``(levels, ...)``.
    """
    details = np.asarray(details)
    sigma = np.asarray(sigma, dtype=np.float64)
    gains = np.asarray(gains, dtype=np.float64)
    sigma_j = gains.reshape((-1,) + (1,) * (details.ndim - 2)) * sigma
    sigma_j = np.broadcast_to(sigma_j, details.shape[:-1])
    if isinstance(threshold, numbers.Real) and not isinstance(threshold, bool):
        if not (finite_number(threshold) and threshold >= 0):
            raise ValueError(f"a numeric threshold is k in k * sigma_j, a finite k >= 0; got "
                             f"{threshold}")
        return float(threshold) * sigma_j
    if threshold == "bayes":
        return bayes_threshold(details, sigma_j)
    if threshold == "universal":
        return universal_threshold(sigma_j, details.shape[-1])
    if threshold == "sure":
        return sure_threshold(details, sigma_j)
    raise ValueError(f"threshold must be one of {THRESHOLDS} or a number k >= 0, got "
                     f"{threshold!r}")


# -- offline denoising ------------------------------------------------------------------------

_BLOCK = 1 << 16  # samples per pass of denoise's level-by-level loops


def _blocks(rows: int, size: int, split_time: bool) -> list[tuple[slice, slice]]:
    """``(rows, time)`` slices that cover a ``(rows, ..., size)`` array in blocks of about
    ``_BLOCK`` samples (whole rows unless ``split_time``)."""
    step = max(1, _BLOCK // max(size, 1))
    width = _BLOCK if split_time else max(size, 1)
    return [(slice(r, r + step), slice(t, t + width))
            for r in range(0, rows, step) for t in range(0, max(size, 1), width)]


def check_denoising_alignment(bank: FilterBank, alignment: str) -> None:
    """Refuse a difference bank in causal alignment (ValueError).

    Its detail ``w_j = c_{j-1} - c_j`` subtracts from ``c_{j-1}`` a lowpass of it that
    lags by ``(K-1) 2^(j-2)`` samples: not a band-pass. A component of c_j whose period is
    not long against that lag shows in w_j at up to twice its amplitude, in every finer
    level, in copies that cancel only in the sum; shrinking the levels one by one breaks
    the cancellation, and no per-level threshold helps (``benchmarks/RESULTS.md``).
    """
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    if bank.difference and alignment == "causal":
        raise ValueError(
            f"a difference bank ({bank.name!r}) does not denoise in causal alignment: its "
            f"causal details are not band-pass, and shrinking them makes a signal worse; "
            f"use alignment='centered' (a stream then lags {(bank.length - 1) // 2} (2^J - 1) "
            f"samples for J levels) or an SWT bank such as 'sym8'")


def _check_denoise_options(bank, threshold, mode, alignment, boundary):
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    check_denoising_alignment(bank, alignment)
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
    if isinstance(threshold, str) and threshold not in THRESHOLDS:
        raise ValueError(f"threshold must be one of {THRESHOLDS} or a number k >= 0, got "
                         f"{threshold!r}")


def denoise(x: npt.ArrayLike, wavelet: WaveletLike = "sym8", levels: int | None = 10,
            threshold: str | float = "bayes", mode: str = "soft",
            sigma: npt.ArrayLike | None = None, alignment: str = "centered",
            boundary: str = "symmetric", axis: int = -1) -> np.ndarray:
    """Wavelet-shrinkage denoising of ``x`` with the à trous transform (module docstring).

    Args:
        x: the noisy signal (float32 stays float32).
        wavelet, levels: the transform (``levels=None``: ``max_level``).
        threshold: ``"bayes"`` (default), ``"sure"``, ``"universal"`` or k (``k sigma_j``).
        mode: ``"soft"``, ``"hard"`` or ``"garrote"``.
        sigma: the noise std; None estimates it per signal (``noise_sigma``).
        alignment, boundary, axis: as ``wavedil.atrous`` (its layout guard; the memory
            bound of ``wavedil.wavelets.guards``); a difference bank (starlet, linear)
            needs ``"centered"`` or ``"pywt"`` (``check_denoising_alignment``).

    The defaults (sym8, 10 levels, BayesShrink, soft) were chosen by measurement on speech
    in white noise. For sym8 the alignment and the boundary change the result little on
    speech, more on a steady tone (the boundary shapes its cut ends); for the starlet the
    causal alignment costs most of the gain, hence refused (``benchmarks/RESULTS.md``,
    "Measurements behind design choices").

    ``Denoiser`` (and ``DenoiseStream``) runs the same recipe in real time with the same
    defaults but two, both for the latency: ``levels=5`` (an SWT bank's stream lags
    ``(K-1)(2^J-1)`` samples: 465 for sym8 at 5 levels, 15345 at 10), and what a stream
    can run (a causal analysis, the ``"zero"`` or ``"edge"`` boundary). Its statistics are
    running ones (``sigma`` and the ``"bayes"`` variances over a ``window`` renewed every
    ``hop`` samples) where this function takes them over the whole signal. With a given
    ``sigma`` and a number k both use the thresholds ``k sigma_j``.

    Shape: ``x`` ``(..., T)``; the result has ``x``'s shape and dtype.
    """
    bank = filter_bank(wavelet)
    _check_denoise_options(bank, threshold, mode, alignment, boundary)
    x3, shape, levels = _as_batch(x, axis, bank, levels, "denoise")
    length = shape[-1]
    if length == 0:
        return np.moveaxis(x3.reshape(shape), -1, axis)
    check_memory(x3.shape[0], length, levels, x3.dtype.itemsize, bank, boundary, "denoise",
                 gains=True)
    gains = detail_gains(bank, levels, alignment)
    if bank.difference or boundary == "periodic":
        margin, mode_of_transform, signal = 0, boundary, x3
    else:  # the exact periodic transform of a stand-in of the extended signal
        signal, margin = stand_in(x3, boundary, reach(bank, levels))
        mode_of_transform = "periodic"
    del x3  # the memory bound: the signal transformed, then only its coefficients
    details, approx = _analysis(signal, bank, levels, alignment, mode_of_transform, False)
    del signal
    inside = details[..., margin : margin + length]  # (levels, B, 1, T)
    if sigma is None:
        noise = noise_sigma(inside, gains)  # (B, 1)
    else:
        noise = np.broadcast_to(np.asarray(sigma, np.float64), shape[:-1]).reshape(-1, 1)
    lambdas = np.empty((levels,) + noise.shape)  # (levels, B, 1)
    for j in range(levels):  # level by level, in blocks, in place: small temporaries
        for rows, _ in _blocks(len(noise), length, split_time=False):
            lambdas[j, rows] = level_thresholds(inside[j : j + 1, rows], noise[rows],
                                                gains[j : j + 1], threshold)[0]
        for rows, times in _blocks(len(noise), details.shape[-1], split_time=True):
            part = details[j, rows, :, times]
            part[...] = shrink(part, lambdas[j, rows, :, None], mode)
    result = AtrousResult(details, approx, bank, alignment, mode_of_transform, False, -1)
    y = iatrous(result)[..., margin : margin + length]
    return np.moveaxis(y.reshape(shape), -1, axis)
