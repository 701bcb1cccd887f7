"""Scale-out on Dask: apply any wavedil operator to a long signal split in time blocks.

Each block is processed with a halo: ``left`` samples of context before it and ``right``
after it (the operator's receptive extent, ``wavedil.receptive.field.halo``), then trimmed.
Inside the array the halo holds the real neighbouring samples; at the array's ends there
is none, so the operator's own boundary applies, exactly as offline. The result therefore
equals the offline call on the whole signal, whatever the block sizes (up to float
rounding), including for nonlinear stacks.

Shape: any ``(..., T)`` dask array (time on ``axis``, default the last); the operator maps
``(..., n)`` to ``(..., n)`` or to ``(k, ..., n)`` (a leading axis of coefficients, e.g.
``wavedil.mra``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt


def apply(op: Callable[[np.ndarray], Any], x: Any,
          halo: tuple[int, int] | None = None, axis: int = -1) -> Any:
    """``op`` over the time blocks of the dask array ``x``; equal to ``op(x)`` computed whole.

    ``halo = (left, right)`` samples of context; by default ``wavedil.receptive.field.halo(op)``.
    Returns a lazy dask array with the same chunks along time.
    """
    import dask
    import dask.array as da

    if not isinstance(x, da.Array):
        raise TypeError(f"x must be a dask array, got {type(x).__name__}")
    if halo is None:
        from .receptive.field import halo as receptive_halo

        halo = receptive_halo(op)
    left, right = (int(v) for v in halo)
    if left < 0 or right < 0:
        raise ValueError(f"halo must be two integers >= 0, got {halo!r}")
    x = da.moveaxis(x, axis, -1)
    length = x.shape[-1]
    if length == 0 or np.isnan(length):
        raise ValueError(f"x needs a known, non-zero length on axis {axis}, got shape {x.shape}")
    sample = op(np.zeros(x.shape[:-1] + (1,), x.dtype))  # output layout and dtype
    pieces, start = [], 0
    for size in x.chunks[-1]:
        stop = start + size
        lo, hi = max(0, start - left), min(length, stop + right)
        block = dask.delayed(_trimmed)(op, x[..., lo:hi], start - lo, hi - stop)
        pieces.append(da.from_delayed(block, sample.shape[:-1] + (size,), sample.dtype))
        start = stop
    return da.moveaxis(da.concatenate(pieces, axis=-1), -1, axis)


def _trimmed(op: Callable[[np.ndarray], npt.ArrayLike], block: np.ndarray, trim_left: int,
             trim_right: int) -> np.ndarray:
    y = np.asarray(op(np.asarray(block)))
    return y[..., trim_left : y.shape[-1] - trim_right]
