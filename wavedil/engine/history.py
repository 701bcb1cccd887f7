"""History buffers for streams: the last ``size`` samples, kept without re-copying, and the
delay line built on them.

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
import numpy.typing as npt

MIN_ROOM = 256


class History:
    """The last ``size`` samples of a ``(*lead, T, *trailing)`` signal, with room to append.

    Time is the last axis unless ``trailing_shape`` is given: the TCN's time-major chain
    keeps ``(B, T, C)`` histories (``trailing_shape=(C,)``).
    ``append(chunk)`` returns a view of ``(kept history, chunk)``: valid until the next call.
    """

    def __init__(self, lead_shape: tuple[int, ...], size: int, dtype: npt.DTypeLike,
                 trailing_shape: tuple[int, ...] = ()):
        self.size = int(size)
        self.lead_shape = tuple(lead_shape)
        self.trailing_shape = tuple(trailing_shape)
        self.dtype = np.dtype(dtype)
        self._rest = (slice(None),) * len(self.trailing_shape)  # the axes after time
        self._buf = self._zeros(self.size + max(self.size, MIN_ROOM))
        self._start = 0
        self._end = 0

    def __repr__(self) -> str:
        return (f"History(lead={self.lead_shape}, size={self.size}, "
                f"trailing={self.trailing_shape}, dtype={self.dtype}, kept={len(self)})")

    def __len__(self) -> int:
        return self._end - self._start

    def append(self, chunk: np.ndarray) -> np.ndarray:
        """Write ``chunk`` (``(*lead, m, *trailing)``) after the history; view of history +
        chunk."""
        m = chunk.shape[len(self.lead_shape)]
        kept = len(self)
        slot = self.reserve(m)
        self._buf[self._time(slot, slot + m)] = chunk
        return self._buf[self._time(slot - kept, slot + m)]

    def reserve(self, m: int) -> int:
        """Make room for ``m`` samples and take them: the caller writes them at time
        ``slot : slot + m`` of ``buffer`` (``slot`` returned), where the ``size`` samples
        before ``slot`` are the history (a compiled kernel fills the slot in place).
        """
        if self._end + m > self._buf.shape[len(self.lead_shape)]:
            self._make_room(m)
        slot = self._end
        self._end += m
        self._start = max(self._start, self._end - self.size)
        return slot

    @property
    def buffer(self) -> np.ndarray:
        """The whole ``(*lead, capacity, *trailing)`` buffer (valid until the next
        ``reserve``)."""
        return self._buf

    def recent(self) -> np.ndarray:
        """View of the kept history (at most ``size`` samples)."""
        return self._buf[self._time(self._start, self._end)]

    def clear(self) -> None:
        """Forget the kept samples (the buffer stays)."""
        self._start = self._end = 0

    def load(self, values: npt.ArrayLike) -> None:
        """Replace the history by ``values`` (``(*lead, n, *trailing)``, ``n <= size``)."""
        self.clear()
        self.append(np.asarray(values, self.dtype))

    def _time(self, start: int, stop: int) -> tuple:
        """The index of time steps ``start : stop`` in the buffer."""
        return (Ellipsis, slice(start, stop)) + self._rest

    def _zeros(self, capacity: int) -> np.ndarray:
        return np.zeros(self.lead_shape + (capacity,) + self.trailing_shape, self.dtype)

    def _make_room(self, m: int) -> None:
        kept = self._end - self._start
        if kept + m > self._buf.shape[len(self.lead_shape)]:
            grown = self._zeros(kept + m + max(self.size, MIN_ROOM))
            grown[self._time(0, kept)] = self._buf[self._time(self._start, self._end)]
            self._buf = grown
        else:
            self._buf[self._time(0, kept)] = self._buf[self._time(self._start, self._end)]
        self._start, self._end = 0, kept


class DelayLine:
    """A delay line of ``delay`` samples on a ``(B, C, m)`` stream, built on ``History``.

    ``push(chunk)`` returns the samples that are now ``delay`` old (none at first); the
    last ``delay`` samples wait in the history until ``drain()``.
    """

    def __init__(self, delay: int) -> None:
        self.delay = delay
        self.history = None

    def push(self, chunk: np.ndarray) -> np.ndarray:
        if self.delay == 0:
            return chunk
        if self.history is None:
            self.history = History(chunk.shape[:2], self.delay, chunk.dtype)
        window = self.history.append(chunk)
        return window[..., : max(0, window.shape[-1] - self.delay)].copy()

    def drain(self, like: np.ndarray) -> np.ndarray:
        if self.history is None:
            return like[..., :0]
        pending = self.history.recent().copy()
        self.history.clear()
        return pending

    def state(self) -> np.ndarray | None:
        return None if self.history is None else self.history.recent().copy()

    def load(self, values: npt.ArrayLike, batch: int, channels: int, dtype: npt.DTypeLike,
             name: str) -> None:
        values = np.asarray(values)
        if values.dtype != dtype or values.shape[:2] != (batch, channels) or \
                values.ndim != 3 or values.shape[2] > self.delay:
            raise ValueError(f"state {name!r} must be {dtype} of shape ({batch}, {channels}, "
                             f"<= {self.delay}), got {values.dtype} {values.shape}")
        self.history = History((batch, channels), self.delay, dtype)
        self.history.load(values)
