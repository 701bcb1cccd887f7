"""The fused, time-major chain of dilated convs that the TCN stream runs.

Inside the chain every signal is time-major, ``(B, T, C)``: a conv's output is the matrix
product ``col @ weight`` of its im2col block ``col`` ``(B, m, K * C_in + 1)`` (a last column
of ones for the bias) with its weight ``(K * C_in + 1, C_out)``. numpy's BLAS ran this
product 12-20 % faster than the channel-major ``weight @ col`` at 128-2048 samples (25.0
vs 22.0 us at 128, 347 vs 279 us at 2048, for 64 -> 64 channels and K = 3). Between two
products one compiled pass (``store_and_gather_tm``) applies the activation and the
residual sum, writes the result into the next conv's history and gathers that conv's
im2col rows: ``K`` contiguous copies of ``C`` samples per time step.

Histories are time-major ``TimeHistory`` buffers; a stream's state keeps the engine's
channel-major layout ``(B, C_in, n)``, so states do not depend on the path.

Shape: ``FusedConv.store`` takes ``(B, m, C_in)`` and fills a ``(B, m, R)`` im2col block.
"""

from __future__ import annotations

import numpy as np

from .buffer import MIN_ROOM
from .conv import DilatedConv1d


class TimeHistory:
    """The last ``size`` time steps of a ``(B, T, C)`` signal, with room to append.

    As ``wavedil.buffer.History``, with time on axis 1: ``reserve(m)`` returns the slot
    where the caller writes the next ``m`` steps; the ``size`` steps before it are the past.
    """

    def __init__(self, batch: int, channels: int, size: int, dtype):
        self.size = int(size)
        self._buf = np.zeros((batch, self.size + max(self.size, MIN_ROOM), channels), dtype)
        self._start = self._end = 0

    @property
    def buffer(self) -> np.ndarray:
        """The whole ``(B, capacity, C)`` buffer (valid until the next ``reserve``)."""
        return self._buf

    def reserve(self, m: int) -> int:
        """Make room for ``m`` steps and take them; returns the slot's first index."""
        if self._end + m > self._buf.shape[1]:
            kept = self._end - self._start
            if kept + m > self._buf.shape[1]:
                grown = np.zeros((self._buf.shape[0], kept + m + max(self.size, MIN_ROOM),
                                  self._buf.shape[2]), self._buf.dtype)
                grown[:, :kept] = self._buf[:, self._start : self._end]
                self._buf = grown
            else:
                self._buf[:, :kept] = self._buf[:, self._start : self._end]
            self._start, self._end = 0, kept
        slot = self._end
        self._end += m
        self._start = max(self._start, self._end - self.size)
        return slot

    def recent(self) -> np.ndarray:
        """View of the kept past, ``(B, n, C)`` with ``n <= size``."""
        return self._buf[:, self._start : self._end]

    def load(self, values: np.ndarray) -> None:
        """Replace the past by ``values`` (``(B, n, C)``, ``n <= size``)."""
        self._start = self._end = 0
        slot = self.reserve(values.shape[1])
        self._buf[:, slot : slot + values.shape[1]] = values


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
        self.history = TimeHistory(batch, c_in, self.span, dtype)
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
