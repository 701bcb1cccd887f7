"""The depthwise path of the engine: one input channel per group, a compiled loop.

A depthwise layer (``groups == C_in == C_out``) filters every channel with its own taps.
This is the inner loop of the à trous transform, where each level is a depthwise layer.
The loop is numba's (``wavedil.engine._jit.levels``, imported on first use); it sums every
output in tap order, so the result is bit-identical to the numpy per-tap formula
``y = w0 x0; y += w1 x1; ...`` in float32 and float64.

Shape: ``x`` is ``(B, C, n)``, ``taps`` is ``(C, K)`` (torch's depthwise weight without its
middle axis); the result is ``(B, C, n_out)``
with ``n_out = n - (K - 1) * dilation``.
"""

from __future__ import annotations

import numpy as np


def depthwise_correlate(x: np.ndarray, taps: np.ndarray, dilation: int, n_out: int,
                        out: np.ndarray | None = None) -> np.ndarray:
    """``y[b, c, i] = sum_t taps[c, t] * x[b, c, i + t * dilation]``, summed in tap order.

    ``out`` (``(B, C, n_out)``, ``x``'s dtype), when given, receives the result.
    """
    from ._jit.levels import depthwise_rows

    if taps.ndim != 2:
        raise ValueError(f"taps must be (C, K), got shape {taps.shape}")
    channels, k = taps.shape
    batch = x.shape[0]
    if x.ndim != 3 or x.shape[1] != channels or x.shape[2] < n_out + (k - 1) * dilation:
        raise ValueError(f"expected x of shape ({batch}, {channels}, >= "
                         f"{n_out + (k - 1) * dilation}), got {x.shape}")
    if out is None:
        out = np.empty((batch, channels, n_out), x.dtype)
    elif out.shape != (batch, channels, n_out) or out.dtype != x.dtype:
        raise ValueError(f"out must be {x.dtype} of shape {(batch, channels, n_out)}, got "
                         f"{out.dtype} {out.shape}")
    depthwise_rows(x, np.ascontiguousarray(taps, dtype=x.dtype), int(dilation), out)
    return out
