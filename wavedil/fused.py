"""The fused, time-major chain of dilated convs that the TCN stream runs.

Inside the chain every signal is time-major, ``(B, T, C)``: a conv's output is the matrix
product ``col @ weight`` of its im2col block ``col`` ``(B, m, K * C_in + 1)`` (a last column
of ones for the bias) with its weight ``(K * C_in + 1, C_out)``. numpy's BLAS ran this
product 12-20 % faster than the channel-major ``weight @ col`` at 128-2048 samples (25.0
vs 22.0 us at 128, 347 vs 279 us at 2048, for 64 -> 64 channels and K = 3). Between two
products one compiled pass (``store_and_gather_tm``) applies the activation and the
residual sum, writes the result into the next conv's history and gathers that conv's
im2col rows: ``K`` contiguous copies of ``C`` samples per time step.

Histories are time-major ``History`` buffers (``(B, T, C_in)``); a stream's state keeps the
engine's channel-major layout ``(B, C_in, n)``, so states do not depend on the path.

Shape: ``FusedConv.store`` takes ``(B, m, C_in)`` and fills a ``(B, m, R)`` im2col block.
"""

from __future__ import annotations

import numpy as np

from .buffer import History
from .conv import DilatedConv1d


class FusedConv:
    """One causal dilated conv of the chain: its time-major weight and history."""

    __slots__ = ("layer", "weight", "span", "dilation", "taps", "history")

    def __init__(self, layer: DilatedConv1d, dtype):
        if layer.groups != 1 or layer.left != layer.span or layer.boundary != "zero":
            raise ValueError(f"the fused chain takes causal, zero-boundary convs with "
                             f"groups 1, got {layer!r}")
        c_out, c_in, k = layer.weight.shape
        weight = layer.weight.astype(dtype).transpose(2, 1, 0).reshape(k * c_in, c_out)
        if layer.bias is not None:  # the bias as a last row, against the column of ones
            weight = np.concatenate([weight, layer.bias.astype(dtype)[None]])
        self.layer, self.weight = layer, np.ascontiguousarray(weight)  # row t * C_in + c
        self.span, self.dilation, self.taps = layer.span, layer.dilation, k
        self.history = None

    def start(self, batch: int, dtype, past: np.ndarray | None = None) -> None:
        """A fresh history: ``past`` (``(B, C_in, n)``, engine layout) or ``span`` zeros."""
        c_in = self.layer.in_channels
        self.history = History((batch,), self.span, dtype, trailing_shape=(c_in,))
        if past is None:
            past = np.zeros((batch, c_in, self.span), dtype)
        self.history.load(past.transpose(0, 2, 1))

    def store(self, kernel, src, residual, mode, col) -> np.ndarray:
        """``act(src)`` (``(B, m, C_in)``) into the history and this conv's im2col rows
        into ``col`` (``kernel`` is ``store_and_gather_tm``); returns a view of what was
        stored."""
        m = src.shape[1]
        history = self.history
        slot = history.reserve(m)
        buffer = history.buffer
        kernel(src, src if residual is None else residual, mode, buffer, slot, self.span,
               self.dilation, self.taps, col)
        return buffer[:, slot : slot + m]

    def state(self) -> np.ndarray:
        """The kept past in the engine's layout, ``(B, C_in, n)``."""
        return self.history.recent().transpose(0, 2, 1).copy()

    def im2col_block(self, batch: int, m: int, dtype) -> np.ndarray:
        """A fresh ``(B, m, K * C_in [+ 1])`` block, its bias column set to ones."""
        col = np.empty((batch, m, self.weight.shape[0]), dtype)
        if self.layer.bias is not None:
            col[..., -1] = 1
        return col
