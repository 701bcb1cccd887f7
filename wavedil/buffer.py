"""History buffers for streams: the last ``size`` samples, kept without re-copying.

A stream that convolves with a span of ``size`` samples must keep that much of the past.
``History`` stores it in a linear buffer with spare room behind it: a chunk is written
after the history and the pair is returned as one contiguous view, so a layer sees
"history + chunk" without concatenating. When the room runs out, the last ``size`` samples
are moved to the front; with room at least ``size`` that move costs at most one sample copy
per appended sample (amortised), so per-chunk work grows with the chunk, never with the
dilation. The buffer holds at most ``2 * size + largest chunk + 256`` samples: a bigger room
would move less often but costs fresh memory (page faults) when a stream starts.
(A ring buffer would need the window gathered around its wrap point on every call; this
layout keeps every window a plain strided view that BLAS reads in place.)

Shape: histories are ``(*lead, T)``: time on the last axis.
"""

from __future__ import annotations

import numpy as np

MIN_ROOM = 256


class History:
    """The last ``size`` samples of a ``(*lead, T)`` signal, with room to append.

    ``append(chunk)`` returns a view of ``(kept history, chunk)``: valid until the next call.
    """

    def __init__(self, lead_shape: tuple[int, ...], size: int, dtype):
        self.size = int(size)
        self.lead_shape = tuple(lead_shape)
        self.dtype = np.dtype(dtype)
        self._buf = np.zeros(self.lead_shape + (self.size + max(self.size, MIN_ROOM),), self.dtype)
        self._start = 0
        self._end = 0

    def __len__(self) -> int:
        return self._end - self._start

    def append(self, chunk: np.ndarray) -> np.ndarray:
        """Write ``chunk`` (``(*lead, m)``) after the history; view of history + chunk."""
        m = chunk.shape[-1]
        kept = len(self)
        slot = self.reserve(m)
        self._buf[..., slot : slot + m] = chunk
        return self._buf[..., slot - kept : slot + m]

    def reserve(self, m: int) -> int:
        """Make room for ``m`` samples and take them: the caller writes them at
        ``buffer[..., slot : slot + m]`` (``slot`` returned), where the ``size`` samples
        before ``slot`` are the history (a compiled kernel fills the slot in place).
        """
        if self._end + m > self._buf.shape[-1]:
            self._make_room(m)
        slot = self._end
        self._end += m
        self._start = max(self._start, self._end - self.size)
        return slot

    @property
    def buffer(self) -> np.ndarray:
        """The whole ``(*lead, capacity)`` buffer (valid until the next ``reserve``)."""
        return self._buf

    def recent(self) -> np.ndarray:
        """View of the kept history (at most ``size`` samples)."""
        return self._buf[..., self._start : self._end]

    def clear(self) -> None:
        self._start = self._end = 0

    def load(self, values: np.ndarray) -> None:
        """Replace the history by ``values`` (``(*lead, n)``, ``n <= size``)."""
        self.clear()
        self.append(np.asarray(values, self.dtype))

    def _make_room(self, m: int) -> None:
        kept = self._end - self._start
        capacity = self._buf.shape[-1]
        if kept + m > capacity:
            grown = np.zeros(self.lead_shape + (kept + m + max(self.size, MIN_ROOM),), self.dtype)
            grown[..., :kept] = self._buf[..., self._start : self._end]
            self._buf = grown
        else:
            self._buf[..., :kept] = self._buf[..., self._start : self._end]
        self._start, self._end = 0, kept
