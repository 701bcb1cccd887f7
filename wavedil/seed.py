"""The seed formula: N-D dilated convolution and correlation, computed from the taps alone.

The l-dilated convolution of F with the filter k (DESIGN.md, "The seed formula")::

    (F *_l k)(p) = sum over s + l*t = p of F(s) k(t)

is a true convolution (the filter is flipped, as in ``scipy.signal.convolve``) and equals
an ordinary convolution with ``dilate_kernel(k, l)``, the filter with ``l - 1`` zeros
inserted between consecutive taps along every axis. ``dilated_convolve`` never builds that
zero-filled kernel: it adds one shifted, scaled copy of ``x`` per tap, so its cost grows
with the number of taps, not with the dilated size.

Deep-learning layers compute the cross-correlation instead (the same sum with the filter
reversed); ``dilated_correlate`` is that spelling, equal to ``scipy.signal.correlate``.

>>> import numpy as np
>>> dilate_kernel(np.array([1, 2, 3]), 2)
array([1, 0, 2, 0, 3])
>>> dilated_convolve(np.array([1.0, 0, 0, 0, 0]), np.array([1.0, 2.0]), 3)
array([1., 0., 0., 2., 0., 0., 0., 0.])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from .engine.checks import per_axis
from .engine.finite import as_signal
from .engine.params import check_budget

MODES = ("full", "same", "valid")


def dilate_kernel(k: npt.ArrayLike, dilation: int | Sequence[int]) -> np.ndarray:
    """Insert ``dilation - 1`` zeros between consecutive taps along every axis.

    ``dilation`` is an int or one int per axis. Shape: ``(K1, ..., Kn)`` ->
    ``((K1 - 1) * d1 + 1, ..., (Kn - 1) * dn + 1)``; the dtype is kept.
    """
    k = np.asarray(k)
    if k.ndim == 0 or k.size == 0:
        raise ValueError(f"kernel must have >= 1 axis and >= 1 tap, got shape {k.shape}")
    d = per_axis(dilation, k.ndim, "dilation")
    shape = tuple((n - 1) * di + 1 for n, di in zip(k.shape, d))
    check_budget(float(np.prod(shape, dtype=float)) * k.itemsize,
                 f"dilate_kernel with dilation={d}: a kernel of shape {shape}",
                 "use dilated_convolve, which never builds the dilated kernel")
    out = np.zeros(tuple((n - 1) * di + 1 for n, di in zip(k.shape, d)), dtype=k.dtype)
    out[tuple(slice(None, None, di) for di in d)] = k
    return out


def dilated_convolve(x: npt.ArrayLike, k: npt.ArrayLike, dilation: int | Sequence[int] = 1,
                     mode: str = "full") -> np.ndarray:
    """N-D dilated (true) convolution of ``x`` with ``k``; the seed formula.

    Equal to ``scipy.signal.convolve(x, dilate_kernel(k, dilation), mode)`` with the same
    output shapes: ``full`` is ``x.shape + eff - 1``, ``same`` is ``x.shape``, ``valid`` is
    ``|x.shape - eff| + 1`` per axis (``eff = (K - 1) * d + 1``). Cost: one pass over ``x``
    per tap, over only the part of the result that ``mode`` keeps (a huge ``dilation`` with
    ``mode="same"`` costs no more than a small one). Every tap counts, zeros too: ``0 * inf``
    is NaN, as in ``np.convolve``. An output beyond the memory budget
    (``wavedil.engine.params``) is refused.
    """
    x, k = _inputs(x, k)
    return _accumulate(x, k, per_axis(dilation, x.ndim, "dilation"), mode, flip=False)


def dilated_correlate(x: npt.ArrayLike, k: npt.ArrayLike, dilation: int | Sequence[int] = 1,
                      mode: str = "full") -> np.ndarray:
    """N-D dilated cross-correlation: ``scipy.signal.correlate(x, dilate_kernel(k, d), mode)``.

    The PyTorch ``conv`` spelling; equal to ``dilated_convolve`` with ``k`` reversed on every
    axis (for real inputs).
    """
    x, k = _inputs(x, k)
    return _accumulate(x, k, per_axis(dilation, x.ndim, "dilation"), mode, flip=True)


def _inputs(x: npt.ArrayLike, k: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x = as_signal(x, "x")
    k = as_signal(k, "k")  # a NaN or infinite tap too, by the non-finite policy
    if x.ndim == 0 or x.ndim != k.ndim:
        raise ValueError(
            f"x and k need the same number of axes (>= 1), got x shape {x.shape}, k shape {k.shape}"
        )
    if x.size == 0 or k.size == 0:
        raise ValueError(f"x and k must be non-empty, got x shape {x.shape}, k shape {k.shape}")
    dtype = np.result_type(x, k)
    return x.astype(dtype, copy=False), k.astype(dtype, copy=False)


def _accumulate(x: np.ndarray, k: np.ndarray, d: tuple[int, ...], mode: str,
                flip: bool) -> np.ndarray:
    """The part of the full result that ``mode`` keeps, computed alone: every tap (zeros
    too, so ``0 * inf`` is NaN as in ``np.convolve``) adds its shifted, scaled copy of ``x``
    where it overlaps that part."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    eff = tuple((n - 1) * di + 1 for n, di in zip(k.shape, d))
    if mode == "valid":
        x_fits = all(a >= b for a, b in zip(x.shape, eff))
        k_fits = all(b >= a for a, b in zip(x.shape, eff))
        if not (x_fits or k_fits):
            raise ValueError(
                "mode 'valid' needs x at least as large as the dilated kernel on every axis "
                f"(or the reverse), got x shape {x.shape}, dilated kernel shape {eff}"
            )
    window = [_window(n, e, mode) for n, e in zip(x.shape, eff)]  # (start, length) per axis
    shape = tuple(length for _, length in window)
    check_budget(float(np.prod(shape, dtype=float)) * x.itemsize,
                 f"{'dilated_correlate' if flip else 'dilated_convolve'} with dilation={d} and "
                 f"mode={mode!r}: an output of shape {shape}",
                 "use mode='same' (the shape of x) or a smaller dilation")
    out = np.zeros(shape, dtype=x.dtype)
    taps = k[tuple(slice(None, None, -1) for _ in range(k.ndim))] if flip else k
    for index in np.ndindex(*k.shape):
        target, source = [], []
        for t, di, n, (start, length) in zip(index, d, x.shape, window):
            shift = t * di - start  # where x[0] lands in the output
            lo, hi = max(0, shift), min(length, shift + n)
            if lo >= hi:
                break
            target.append(slice(lo, hi))
            source.append(slice(lo - shift, hi - shift))
        else:
            with np.errstate(invalid="ignore"):  # 0 * inf is NaN, silently as in np.convolve
                out[tuple(target)] += taps[index] * x[tuple(source)]
    return out


def _window(n: int, e: int, mode: str) -> tuple[int, int]:
    """The (start, length) that ``mode`` keeps of a full result of ``n + e - 1`` samples."""
    if mode == "full":
        return 0, n + e - 1
    if mode == "same":
        return (e - 1) // 2, n
    return min(n, e) - 1, abs(n - e) + 1
