"""The à trous (undecimated, stationary) wavelet transform: forward, inverse and MRA.

Level j = 1..J filters the previous approximation with the bank's filters spread
``d = 2^(j-1)`` samples apart (DESIGN.md)::

    c_j[n] = sum_t h[t] c_{j-1}[n + r_j - d t]      (c_0 = x)
    w_j[n] = sum_t g[t] c_{j-1}[n + r_j - d t]      (SWT / MODWT families)
    w_j    = c_{j-1} - c_j                          (difference families: starlet, linear)

Every level is a depthwise ``DilatedConv1d`` of the engine (``level_layers``: a
cross-correlation, so it holds the reversed filter) with dilation ``d`` and the extent
``(left_j, right_j)`` of the alignment:

- ``"causal"``: ``r_j = 0``, only the present and the past (Holschneider's real-time form);
- ``"centered"``: ``r_j = span_j // 2`` with ``span_j = (K-1) d`` (``wavedil.engine.spec``);
- ``"pywt"``: ``r_j = (K // 2) d``, the phase of ``pywt.swt``.

Boundaries are an extension of ``c_{j-1}`` by ``left_j`` samples before and ``right_j``
after, at every level: ``"periodic"`` (``pywt``'s periodic SWT), ``"symmetric"`` (half-sample
mirror, ``x1 x0 | x0 x1``), ``"reflect"`` (whole-sample mirror, ``x1 | x0 x1``), ``"zero"``
and ``"edge"`` (the first / last sample repeated; with ``"zero"`` these two are what the
streams do): ``pywt.pad``'s ``periodic``, ``symmetric``, ``reflect``, ``zero`` and
``constant``, ``numpy.pad``'s ``wrap``, ``symmetric``, ``reflect``, ``constant`` and
``edge`` (``wavedil.wavelets.boundaries``). Extensions longer than the signal repeat, so
any length works; a level whose span is over a quarter of the signal reads it tap by tap
at offsets folded into ``[-T, 2T)`` (``boundaries.fold``), so any number of levels works
too, in the memory of a few copies of the signal.

The offline functions run those layers' arithmetic through the compiled loops of the
engine's depthwise path (``wavedil.engine.compiled``, numba, imported on first use): a
level's lowpass and highpass come from one pass over ``c_{j-1}`` (the inverse: both
synthesis filters, their sum and the scale in one pass), reading the interior in place and
extending only the few samples near the ends; the sums run in tap order, so the results
are bit-identical to the engine's.

``norm=True`` is the MODWT normalisation: level j's coefficients times ``2^(-j/2)`` (for an
SWT bank: every filter divided by sqrt(2), energy preserving for an orthogonal bank).

Layout and memory (``wavedil.wavelets.guards``): a 2-D ``x`` that looks like ``(T, C)``
with the default ``axis=-1`` is refused with a hint (``x.T`` or ``axis=0``), and no call
allocates more than ``8 (levels + 1)`` times the input, plus 8 MiB.

Shape: ``x`` is ``(..., T)`` with time on ``axis``; ``details`` is ``(levels, *x.shape)``
(finest first), ``approx`` is ``x.shape``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..engine import memory
from ..engine.checks import positive_int
from ..engine.conv import DilatedConv1d
from ..engine.finite import as_signal, check_signal
from ..engine.params import axis_index, flag, integer
from ..engine.spec import Branches, Chain, LayerSpec, resolve_alignment
from .banks import FilterBank, WaveletLike, filter_bank
from .boundaries import BOUNDARIES, fold, stand_in, window
from .guards import MAX_LEVELS, check_levels, check_memory, check_time_axis

ALIGNMENTS = ("causal", "centered", "pywt")
MRA_ORDERS = ("fine-to-coarse", "pywt")
_PR_TOLERANCE = 1e-8  # how far a bank may be from perfect reconstruction (relative)


@dataclass(frozen=True, eq=False)
class AtrousResult:
    """The coefficients of ``atrous`` and the options its inverse needs.

    ``details[j - 1]`` is level j's detail w_j (finest first); ``approx`` is c_J.

    Shape: ``details`` ``(levels, *signal_shape)``, ``approx`` ``signal_shape`` (time on
    ``axis``).
    """

    details: np.ndarray
    approx: np.ndarray
    wavelet: FilterBank
    alignment: str
    boundary: str
    norm: bool
    axis: int

    @property
    def levels(self) -> int:
        """J: the detail levels (``details.shape[0]``)."""
        return self.details.shape[0]

    def __repr__(self) -> str:
        return (f"AtrousResult(levels={self.levels}, shape={self.approx.shape}, "
                f"dtype={self.approx.dtype}, wavelet={self.wavelet.name!r}, "
                f"alignment={self.alignment!r}, boundary={self.boundary!r}, norm={self.norm}, "
                f"axis={self.axis})")

    def stack(self) -> np.ndarray:
        """``(levels + 1, *signal_shape)``: the details then the approximation.

        The layout of ``AtrousStream``'s output.
        """
        return np.concatenate([self.details, self.approx[None]], axis=0)


# -- levels and extents ---------------------------------------------------------------------

def max_level(length: int, wavelet: WaveletLike) -> int:
    """The deepest level J whose support ``(K-1)(2^J - 1) + 1`` fits ``length`` (at least 1).

    With K taps, level j's equivalent filter spans ``(K-1)(2^j - 1) + 1`` samples: J is the
    largest j for which that is ``<= length``, or 1 when even level 1 does not fit. (A
    1-tap bank has support 1 at every level; its J is the largest j with ``2^j <= length``.)

    >>> max_level(8, "haar"), max_level(1000, "starlet"), max_level(3, "db4")
    (3, 7, 1)
    """
    bank = filter_bank(wavelet)
    length = integer(length, "length", low=0)
    level = 1
    while level < MAX_LEVELS:
        support = bank.support(level + 1) if bank.length > 1 else 2 ** (level + 1)
        if support > length:
            break
        level += 1
    return level


def level_extent(wavelet: WaveletLike, level: int, alignment: str) -> tuple[int, int]:
    """``(left, right)``: the past and future samples level ``level`` reads around n.

    >>> level_extent("db4", 3, "pywt"), level_extent("starlet", 2, "centered")
    ((12, 16), (4, 4))
    """
    bank = filter_bank(wavelet)
    level = positive_int(level, "level")
    dilation = 2 ** (level - 1)
    span = (bank.length - 1) * dilation
    if alignment == "pywt":
        right = (bank.length // 2) * dilation
        return span - right, right
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    return resolve_alignment(alignment, span)


def level_layers(wavelet: WaveletLike, level: int, alignment: str, norm: bool = False,
                 boundary: str = "zero", channels: int = 1
                 ) -> tuple[DilatedConv1d, DilatedConv1d | None]:
    """The engine layers of one level: ``(lowpass, highpass)``; highpass is None for a
    difference bank (its detail is ``c_{j-1} - c_j``).

    Each is a depthwise ``DilatedConv1d`` over ``channels`` holding the reversed filter
    (the engine cross-correlates), scaled by ``1/sqrt(2)`` when ``norm``, with dilation
    ``2^(level-1)``, the alignment's extent and the stream boundary (``"zero"``/``"edge"``).
    """
    bank = filter_bank(wavelet)
    extent = level_extent(bank, level, alignment)
    dilation = 2 ** (level - 1)
    scale = 1 / math.sqrt(2) if norm else 1.0

    def layer(taps: np.ndarray) -> DilatedConv1d:
        weight = np.tile(taps[::-1] * scale, (channels, 1, 1))
        return DilatedConv1d(weight, dilation=dilation, groups=channels, alignment=extent,
                             boundary=boundary)

    return layer(bank.dec_lo), None if bank.difference else layer(bank.dec_hi)


def atrous_spec(wavelet: WaveletLike, levels: int, alignment: str = "causal") -> Branches:
    """The spec tree of the transform: ``Branches`` of one path per output (w_1..w_J, c_J).

    Detail j reads through the lowpass of levels 1..j-1 and a level-j filter (for a
    difference bank: ``c_{j-1}`` itself and the level-j lowpass); c_J through every lowpass.
    """
    bank = filter_bank(wavelet)
    levels = positive_int(levels, "levels")
    specs = []
    for j in range(1, levels + 1):
        left, right = level_extent(bank, j, alignment)
        specs.append(LayerSpec(bank.length, 2 ** (j - 1), 1, left, right,
                               name=f"atrous level {j}", bias=False))
    paths = []
    for j in range(1, levels + 1):
        path: Chain | Branches = Chain(tuple(specs[:j]))
        if bank.difference:
            path = Branches((Chain(tuple(specs[: j - 1])), path))
        paths.append(path)
    return Branches(tuple(paths) + (Chain(tuple(specs)),))


# -- the forward transform ------------------------------------------------------------------

def _check_options(alignment, boundary, boundaries=BOUNDARIES):
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    if boundary not in boundaries:
        raise ValueError(f"boundary must be one of {boundaries}, got {boundary!r}")


def _as_batch(x, axis: int, bank: FilterBank, levels: int | None, what: str):
    """``x`` as a float array with time last, reshaped to ``(B, 1, T)``; the moved shape;
    and ``levels`` checked (None: ``max_level(T)``), after the layout guard
    (``wavedil.wavelets.guards.check_time_axis``)."""
    x = as_signal(x, "x")
    if x.ndim == 0:
        raise ValueError(f"x must have a time axis, got a scalar of shape {x.shape}")
    axis = axis_index(axis, x.shape)
    levels = None if levels is None else check_levels(levels)
    check_time_axis(x.shape, axis, bank, levels, what)
    moved = np.moveaxis(x, axis, -1)
    batch = math.prod(moved.shape[:-1])
    x3 = np.ascontiguousarray(moved).reshape(batch, 1, moved.shape[-1])
    return x3, moved.shape, max_level(moved.shape[-1], bank) if levels is None else levels


def _taps(filt: np.ndarray, scale: float, dtype) -> np.ndarray:
    """A filter as the kernels' correlation taps: reversed, scaled, in ``dtype``."""
    return np.ascontiguousarray(filt[::-1] * scale, dtype=dtype)


def _by_segments(inputs, left: int, right: int, boundary: str, run) -> None:
    """Call ``run(inputs, x0, y0, n)`` so that every output ``0 .. T-1`` is computed once.

    Output n reads positions ``n - left .. n + right`` of each ``(rows, T)`` input. The
    interior reads the inputs in place (``run(inputs, 0, left, T - left - right)``); the
    few outputs near the ends read short segments extended by ``boundary``, so no level
    copies its whole input (the callers take ``_folded`` for a span over ``T / 4``).
    """
    length = inputs[0].shape[-1]
    span = left + right
    if length > span:
        run(inputs, 0, left, length - span)
        ends = [(0, left), (length - right, length)]
    else:
        ends = [(0, length)]
    for start, stop in ends:
        if stop > start:
            run(tuple(window(c, start - left, stop + right, boundary) for c in inputs),
                0, start, stop - start)


def _folds(length: int, span: int) -> bool:
    """Whether a level spanning ``span`` samples runs ``_folded``: its end segments
    (``_by_segments``) would be longer than ``T / 2``."""
    return 4 * span > length


def _folded(c: np.ndarray, taps: np.ndarray, dilation: int, left: int, boundary: str,
            out: np.ndarray) -> np.ndarray:
    """``out[:, n] = sum_t taps[t] c[n - left + t dilation]`` with ``c`` ``(rows, T)``
    extended by ``boundary``, for a level whose span is not short beside T: tap by tap,
    each reading T samples of the extension at its offset folded into ``[-T, 2T)``
    (``boundaries.fold``), summed in tap order as the kernels sum them (the same floats,
    bit for bit), with one temporary of ``c``'s size."""
    length = c.shape[-1]
    offsets = fold([t * dilation - left for t in range(taps.size)], length, boundary)
    piece = np.empty_like(out)
    for t, offset in enumerate(offsets):
        source = c if offset == 0 else window(c, offset, offset + length, boundary, piece)
        np.multiply(source, taps[t], out=out if t == 0 else piece)
        if t:
            out += piece
    return out


def _analysis_taps(bank: FilterBank, norm: bool, dtype):
    """``(lowpass taps, highpass taps or empty, detail scale)`` for the analysis kernels."""
    scale = 1 / math.sqrt(2) if norm else 1.0
    lo_taps = _taps(bank.dec_lo, scale, dtype)
    hi_taps = np.zeros(0, dtype) if bank.difference else _taps(bank.dec_hi, scale, dtype)
    return lo_taps, hi_taps, dtype.type(scale)


def _analysis(x3: np.ndarray, bank: FilterBank, levels: int, alignment: str, boundary: str,
              norm: bool) -> tuple[np.ndarray, np.ndarray]:
    """Forward transform of ``(B, 1, T)``: details ``(levels, B, 1, T)`` and approx.

    One compiled pass per level reads ``c_{j-1}`` once and writes ``c_j`` and ``w_j``
    (``wavedil.engine.compiled.analysis_rows``); the approximations alternate between
    one scratch buffer and the returned ``approx``, which the last level fills.
    """
    from ..engine.compiled import analysis_rows

    details = memory.empty((levels,) + x3.shape, x3.dtype)  # often > 32 MB: see engine.memory
    if x3.shape[-1] == 0:
        return details, x3.copy()
    rows = x3.shape[0] * x3.shape[1]
    c = np.ascontiguousarray(x3).reshape(rows, x3.shape[-1])
    lo_taps, hi_taps, detail_scale = _analysis_taps(bank, norm, x3.dtype)
    approx = np.empty_like(c)
    scratch = np.empty_like(c) if levels > 1 else approx  # (one level writes approx only)
    buffers = [approx, scratch] if levels % 2 == 0 else [scratch, approx]
    for j in range(1, levels + 1):
        left, right = level_extent(bank, j, alignment)
        c_next, w = buffers[j % 2], details[j - 1].reshape(c.shape)

        def run(inputs, x0, y0, n, j=j, left=left, c_next=c_next, w=w):
            analysis_rows(inputs[0], x0, lo_taps, hi_taps, 2 ** (j - 1), left, detail_scale,
                          c_next, y0, w, y0, n)

        if not _folds(c.shape[-1], left + right):
            _by_segments((c,), left, right, boundary, run)
        elif hi_taps.size:
            _folded(c, lo_taps, 2 ** (j - 1), left, boundary, c_next)
            _folded(c, hi_taps, 2 ** (j - 1), left, boundary, w)
        else:  # the kernel's difference detail: scale * c_{j-1} - c_j
            _folded(c, lo_taps, 2 ** (j - 1), left, boundary, c_next)
            np.multiply(c, detail_scale, out=w)
            w -= c_next
        c = c_next
    return details, c.reshape(x3.shape)


def atrous(x: npt.ArrayLike, wavelet: WaveletLike, levels: int | None = None,
           alignment: str = "causal", boundary: str = "periodic", norm: bool = False,
           axis: int = -1) -> AtrousResult:
    """The à trous wavelet transform of ``x`` along ``axis`` (see the module docstring).

    Args:
        x: the signal; float32 stays float32, float64 and integers give float64.
        wavelet: a name (``wavedil.wavelets.banks.wavelist()``), a FilterBank, a
            ``(lowpass, highpass)`` pair or a ``pywt.Wavelet``-like object.
        levels: 1 <= J <= 40; None picks ``max_level(T, wavelet)``. Any J works for any
            length.
        alignment: ``"causal"``, ``"centered"`` or ``"pywt"``.
        boundary: ``"periodic"``, ``"symmetric"``, ``"reflect"``, ``"zero"`` or ``"edge"``.
        norm: MODWT normalisation (level j scaled by ``2^(-j/2)``).
        axis: the time axis. With the default -1 a 2-D ``x`` whose last axis is at most
            a quarter of its first and shorter than the deepest level's support
            ``(K-1)(2^J - 1) + 1`` (two levels' for ``levels=None``) is refused:
            ``soundfile.read``'s ``(frames, channels)`` wants ``x.T`` or ``axis=0``. 1-D
            and 3-D inputs, other 2-D ones, and an axis named explicitly (``axis=1`` for
            the rows of a 2-D ``x``, however short) are taken as given.

    ``alignment="pywt", boundary="periodic"`` gives ``pywt.swt(x, wavelet, J,
    trim_approx=True, norm=norm)`` (reversed into finest-first order) for every length.

    Its operator twin ``AtrousTransform(wavelet, levels, alignment, boundary, norm)`` differs
    in its defaults: ``levels`` is required there, and ``boundary`` is ``"zero"`` there
    (a stream can only extend by ``"zero"`` or ``"edge"``) against ``"periodic"`` here; it
    returns ``atrous(...).stack()`` and takes ``channels`` (its streams' layout) besides
    ``axis``. So ``AtrousTransform(w, J)(x)`` equals ``atrous(x, w, J,
    boundary="zero").stack()``.

    Shape: ``x`` ``(..., T)``; ``details`` ``(levels, *x.shape)``, ``approx`` ``x.shape``.

    >>> r = atrous([3, 7, 1, 3, -2, 6, 4, 6], "haar", 2, alignment="pywt")
    >>> np.round(r.approx, 12).tolist()
    [7.0, 4.5, 4.0, 5.5, 7.0, 9.5, 10.0, 8.5]
    >>> np.round(r.details[1], 12).tolist()
    [3.0, 3.5, 0.0, -4.5, -3.0, 0.5, 0.0, 0.5]
    """
    bank = filter_bank(wavelet)
    _check_options(alignment, boundary)
    norm = flag(norm, "norm")
    x3, shape, levels = _as_batch(x, axis, bank, levels, "atrous")
    details, approx = _analysis(x3, bank, levels, alignment, boundary, norm)
    details = np.moveaxis(details.reshape((levels,) + shape), -1, axis if axis < 0 else axis + 1)
    approx = np.moveaxis(approx.reshape(shape), -1, axis)
    return AtrousResult(details, approx, bank, alignment, boundary, norm,
                        axis if axis < 0 else axis - len(shape))


# -- the inverse ----------------------------------------------------------------------------

def reconstruction_gain(wavelet: WaveletLike, norm: bool = False) -> float:
    """The constant c of ``rec_lo * dec_lo + rec_hi * dec_hi = c delta[n - (K-1)]``.

    2 for an orthogonal bank (1 with ``norm``); raises ValueError when the bank is not a
    perfect-reconstruction bank, quoting the largest stray coefficient.
    """
    bank = filter_bank(wavelet)
    scale = 0.5 if norm else 1.0
    product = scale * (np.convolve(bank.rec_lo, bank.dec_lo) + np.convolve(bank.rec_hi,
                                                                           bank.dec_hi))
    gain = product[bank.length - 1]
    stray = np.delete(product, bank.length - 1)
    worst = float(np.max(np.abs(stray), initial=0.0))
    if abs(gain) == 0 or worst > _PR_TOLERANCE * abs(gain):
        raise ValueError(
            f"filter bank {bank.name!r} is not a perfect-reconstruction bank: "
            f"rec_lo*dec_lo + rec_hi*dec_hi should be c*delta[n - {bank.length - 1}], got "
            f"c = {gain:.6g} and a stray coefficient of {worst:.3g} "
            f"(tolerance {_PR_TOLERANCE:g} * |c|)")
    return float(gain)


def synthesis_layers(wavelet: WaveletLike, level: int, alignment: str, norm: bool = False,
                     channels: int = 1) -> tuple[DilatedConv1d, DilatedConv1d]:
    """The engine layers that undo one SWT level: ``(lowpass, highpass)`` with the bank's
    reconstruction filters, and the extent that mirrors the analysis extent.

    ``c_{j-1} = (lowpass(c_j) + highpass(w_j)) / reconstruction_gain(wavelet, norm)``
    on a periodic signal (and on an endless one: what ``DenoiseStream`` runs).
    """
    bank = filter_bank(wavelet)
    left, right = level_extent(bank, level, alignment)
    dilation = 2 ** (level - 1)
    scale = 1 / math.sqrt(2) if norm else 1.0

    def layer(taps: np.ndarray) -> DilatedConv1d:
        weight = np.tile(taps[::-1] * scale, (channels, 1, 1))
        return DilatedConv1d(weight, dilation=dilation, groups=channels, alignment=(right, left))

    return layer(bank.rec_lo), layer(bank.rec_hi)


def _why_not_invertible(bank: FilterBank, boundary: str) -> str | None:
    if bank.difference:
        return None
    if boundary != "periodic":
        return (f"the {bank.name!r} transform with boundary={boundary!r} is not exactly "
                f"invertible: near the ends its coefficients mix the signal with the "
                f"{boundary!r} extension, which synthesis filters cannot undo from T "
                f"coefficients per level. Use boundary='periodic' (exact for every length and "
                f"alignment), a difference bank ('starlet', 'linear': x = c_J + sum w_j for "
                f"every boundary), or wavedil.mra, which extends the signal itself")
    try:
        reconstruction_gain(bank)
    except ValueError as error:
        return f"cannot invert the transform: {error}"
    return None


def _lowpass_level(c: np.ndarray, taps: np.ndarray, dilation: int, extent, out: np.ndarray,
                   boundary: str = "periodic") -> np.ndarray:
    """One filter of one level on ``(rows, T)``: ``out[:, n] = sum_t taps[t] c[:, n - left
    + t d]`` with ``c`` extended by ``boundary``; ``extent`` is ``(left, right)``."""
    from ..engine.compiled import correlate_rows

    def run(inputs, x0, y0, n):
        correlate_rows(inputs[0], x0, taps, dilation, out, y0, n)

    if _folds(c.shape[-1], extent[0] + extent[1]):
        return _folded(c, taps, dilation, extent[0], boundary, out)
    _by_segments((c,), extent[0], extent[1], boundary, run)
    return out


def iatrous(result: AtrousResult) -> np.ndarray:
    """The signal whose transform is ``result`` (perfect reconstruction).

    Exact (float rounding only) for difference banks with every boundary and alignment
    (``x = c_J + sum_j w_j``), and for perfect-reconstruction SWT banks with
    ``boundary="periodic"`` and every alignment and length. Other combinations are not
    exactly invertible and raise ValueError saying why.

    Shape: ``result.approx.shape``.
    """
    if not isinstance(result, AtrousResult):
        raise TypeError(f"iatrous: result must be an AtrousResult (from atrous), got "
                        f"{type(result).__name__}")
    bank = result.wavelet
    reason = _why_not_invertible(bank, result.boundary)
    if reason:
        raise ValueError(reason)
    check_signal(np.asarray(result.details), "result.details")
    check_signal(np.asarray(result.approx), "result.approx")
    axis = result.axis
    approx = np.moveaxis(result.approx, axis, -1)
    details = np.moveaxis(result.details, axis, -1)
    if bank.difference:
        root2 = math.sqrt(2)
        c = approx.copy()
        for j in range(result.levels, 0, -1):
            c += details[j - 1]
            if result.norm:
                c *= root2
        return np.moveaxis(c, -1, axis)
    shape = approx.shape
    c = np.ascontiguousarray(approx).reshape(math.prod(shape[:-1]), shape[-1])
    if shape[-1] == 0:
        return np.moveaxis(c.reshape(shape).copy(), -1, axis)
    return np.moveaxis(_synthesis(c, details, bank, result.alignment, result.norm)
                       .reshape(shape), -1, axis)


def _synthesis(approx: np.ndarray, details: np.ndarray, bank: FilterBank, alignment: str,
               norm: bool) -> np.ndarray:
    """Inverse of a periodic SWT: ``(rows, T)`` approx and ``(levels, ..., T)`` details.

    One compiled pass per level (``wavedil.engine.compiled.synthesis_rows``) runs both
    synthesis filters of ``synthesis_layers``, their sum and the ``1 / gain`` scale.
    """
    from ..engine.compiled import synthesis_rows

    dtype = approx.dtype
    scale = 1 / math.sqrt(2) if norm else 1.0
    lo_taps, hi_taps = _taps(bank.rec_lo, scale, dtype), _taps(bank.rec_hi, scale, dtype)
    inverse_gain = dtype.type(1 / reconstruction_gain(bank, norm))
    buffers = [np.empty_like(approx) for _ in range(min(details.shape[0], 2))]
    c = approx
    for j in range(details.shape[0], 0, -1):
        left, right = level_extent(bank, j, alignment)  # synthesis reads (right, left)
        w = np.ascontiguousarray(details[j - 1]).reshape(c.shape)
        out = buffers[j % len(buffers)]

        def run(inputs, x0, y0, n, j=j, out=out):
            synthesis_rows(inputs[0], inputs[1], x0, lo_taps, hi_taps, 2 ** (j - 1),
                           inverse_gain, out, y0, n)

        if _folds(c.shape[-1], left + right):  # the kernel's order: (lo + hi) * 1 / gain
            _folded(c, lo_taps, 2 ** (j - 1), right, "periodic", out)
            out += _folded(w, hi_taps, 2 ** (j - 1), right, "periodic", np.empty_like(out))
            out *= inverse_gain
        else:
            _by_segments((c, w), right, left, "periodic", run)
        c = out
    return c


# -- multiresolution analysis ---------------------------------------------------------------

def _periodic_components(x3, bank, levels, alignment, norm, start, length):
    """MRA of ``(B, 1, P)`` with the periodic SWT, samples ``start .. start + length - 1``
    of it: ``(levels + 1, B, 1, length)``.

    With ``S_j`` the lowpass-only synthesis of c_j back to level 0 (``S_0 = x``), perfect
    reconstruction gives component j (the synthesis of w_j alone) as ``S_{j-1} - S_j``
    and the approximation's as ``S_J``: j lowpass syntheses for level j and no highpass,
    and the components add up to x by construction. ``parts[j]`` holds ``S_j`` until
    ``S_{j+1}`` is subtracted from it: besides the stand-in, three arrays of its size
    live at once (c_j and two steps of the synthesis).
    """
    dtype = x3.dtype
    scale = 1 / math.sqrt(2) if norm else 1.0
    analysis, synthesis = _taps(bank.dec_lo, scale, dtype), _taps(bank.rec_lo, scale, dtype)
    inverse_gain = dtype.type(1 / reconstruction_gain(bank, norm))
    rows, crop = x3.shape[0] * x3.shape[1], slice(start, start + length)
    parts = memory.empty((levels + 1, rows, length), dtype)
    c = np.ascontiguousarray(x3).reshape(rows, x3.shape[-1])
    parts[0] = c[:, crop]
    for j in range(1, levels + 1):
        extent = level_extent(bank, j, alignment)
        c = _lowpass_level(c, analysis, 2 ** (j - 1), extent, np.empty_like(c))
        smooth = c
        for k in range(j, 0, -1):
            left, right = level_extent(bank, k, alignment)
            smooth = _lowpass_level(smooth, synthesis, 2 ** (k - 1), (right, left),
                                    np.empty_like(c))
            smooth *= inverse_gain
        parts[j] = smooth[:, crop]  # S_j
        parts[j - 1] -= parts[j]  # component j: S_{j-1} - S_j
    return parts.reshape((levels + 1,) + x3.shape[:-1] + (length,))


def mra(x: npt.ArrayLike, wavelet: WaveletLike, levels: int | None = None,
        alignment: str = "causal", boundary: str = "periodic", norm: bool = False,
        axis: int = -1, order: str = "fine-to-coarse") -> np.ndarray:
    """Multiresolution analysis: ``levels + 1`` components that add up to ``x``.

    Components ``0..levels-1`` are the details (finest first), the last is the
    approximation (``order="fine-to-coarse"``); ``order="pywt"`` reverses them into
    ``pywt.mra``'s ``[A_J, D_J, ..., D_1]``. For a difference bank they are w_1..w_J and
    c_J themselves. For an SWT bank component j is the inverse transform of w_j alone
    (``pywt.mra(x, w, J, transform='swt')`` in reverse order, where pywt accepts the
    length); with a boundary
    other than periodic they are those of the signal extended by that boundary forever,
    computed exactly by the periodic transform of a stand-in (one period of the symmetric
    or reflect extension, or the signal with ``reach`` zero / edge samples added:
    ``wavedil.wavelets.boundaries``), so they still sum exactly to ``x``. ``alignment``
    and ``norm`` change the coefficients, not the components (up to rounding). ``axis``,
    the layout guard and the memory bound are ``atrous``'s; zero and edge boundaries whose
    extension would break the bound are refused (``wavedil.wavelets.guards``).

    Shape: ``x`` ``(..., T)``; returns ``(levels + 1, *x.shape)``.
    """
    bank = filter_bank(wavelet)
    _check_options(alignment, boundary)
    if order not in MRA_ORDERS:
        raise ValueError(f"order must be one of {MRA_ORDERS}, got {order!r}")
    if order == "pywt":
        return mra(x, bank, levels, alignment, boundary, norm, axis)[::-1]
    x3, shape, levels = _as_batch(x, axis, bank, levels, "mra")
    length = shape[-1]
    norm = flag(norm, "norm")
    if bank.difference:
        details, approx = _analysis(x3, bank, levels, alignment, boundary, False)
        parts = np.concatenate([details, approx[None]], axis=0)
    elif length == 0:
        parts = np.zeros((levels + 1,) + x3.shape, x3.dtype)
    else:
        reason = _why_not_invertible(bank, "periodic")
        if reason:
            raise ValueError(reason)
        check_memory(x3.shape[0], length, levels, x3.dtype.itemsize, bank, boundary, "mra")
        extended, start = stand_in(x3, boundary, reach(bank, levels))
        del x3  # (a copy when axis moved): the memory bound
        parts = _periodic_components(extended, bank, levels, alignment, norm, start, length)
    parts = parts.reshape((levels + 1,) + shape)
    return np.moveaxis(parts, -1, axis if axis < 0 else axis + 1)


def reach(wavelet: WaveletLike, levels: int) -> int:
    """``sum_j (K-1) 2^(j-1)``: how far analysis then synthesis of ``levels`` levels reach
    on either side of a sample, whatever the alignment.

    >>> reach("starlet", 3)
    28
    """
    bank = filter_bank(wavelet)
    return (bank.length - 1) * (2 ** check_levels(levels) - 1)


def level_energies(result: AtrousResult) -> list[tuple[str, float, float]]:
    """Rows ``(name, energy, share)`` per level: ``"w1".."wJ"`` then ``"cJ"``.

    Energy is the sum of squares over every sample (and channel); share is the fraction
    of the total over the rows. For an orthogonal bank with ``norm=True`` and periodic
    boundary the total equals ``sum(x**2)`` (MODWT energy preservation).
    """
    if not isinstance(result, AtrousResult):
        raise TypeError(f"level_energies: result must be an AtrousResult (from atrous), got "
                        f"{type(result).__name__}")
    stacked = result.stack()
    energies = [float(np.sum(np.square(part, dtype=np.float64))) for part in stacked]
    total = sum(energies)
    names = [f"w{j}" for j in range(1, result.levels + 1)] + [f"c{result.levels}"]
    return [(name, e, e / total if total else 0.0) for name, e in zip(names, energies)]
