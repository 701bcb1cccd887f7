"""The depthwise path of the engine: one input channel per group, a multiply-add per tap.

A depthwise layer (``groups == C_in == C_out``) filters every channel with its own taps.
This is the inner loop of the à trous transform, where each level is a depthwise layer.

Shape: ``x`` is ``(B, C, n)``, ``taps`` is ``(K, C, 1)``; the result is ``(B, C, n_out)``
with ``n_out = n - (K - 1) * dilation``.
"""

from __future__ import annotations

import numpy as np


def depthwise_correlate(x: np.ndarray, taps: np.ndarray, dilation: int,
                        n_out: int) -> np.ndarray:
    """``y[b, c, i] = sum_t taps[t, c] * x[b, c, i + t * dilation]``, summed in tap order."""
    y = taps[0] * x[..., :n_out]
    for t in range(1, taps.shape[0]):
        y += taps[t] * x[..., t * dilation : t * dilation + n_out]
    return y
