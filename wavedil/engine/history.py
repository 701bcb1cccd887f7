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

A delay line is a ``History`` of ``delay`` samples (``DelayLine``). Compiled kernels keep
theirs in the same layout: a ``HistoryArena`` puts several histories in one buffer with their
positions in one array, and ``wavedil.engine._jit.levels.reserve`` is ``History.reserve``
compiled for it (the tests feed both the same appends and compare them); a
``TimeMajorArena`` does the same for time-major histories of several widths (a chain of
convs, ``wavedil.engine._jit.chain.reserve``).

Shape: histories are ``(*lead, T)``: time on the last axis (``(*lead, T, *trailing)`` when
a ``trailing_shape`` is given).
"""

from __future__ import annotations

from collections.abc import Sequence

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
                 trailing_shape: tuple[int, ...] = ()) -> None:
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


class DelayLine(History):
    """A delay of ``delay`` samples on a ``(*lead, m)`` stream: a ``History`` of ``delay``
    samples used as a delay line.

    ``push(chunk)`` returns the samples that are now ``delay`` old (none at first); the
    last ``delay`` samples wait in the history (``recent()``) until ``drain()``.
    """

    def __init__(self, lead_shape: tuple[int, ...], delay: int, dtype: npt.DTypeLike) -> None:
        super().__init__(lead_shape, delay, dtype)
        self.delay = self.size

    def __repr__(self) -> str:
        return f"DelayLine({self.lead_shape}, delay={self.delay}, dtype={self.dtype})"

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Append ``chunk`` (``(*lead, m)``); return the samples now ``delay`` old."""
        if self.delay == 0:
            return chunk
        window = self.append(chunk)
        return window[..., : max(0, window.shape[-1] - self.delay)].copy()

    def drain(self) -> np.ndarray:
        """The samples still waiting (``(*lead, <= delay)``); the line is empty after."""
        pending = self.recent().copy()
        self.clear()
        return pending


class HistoryArena:
    """Histories side by side in one ``(rows, capacity)`` buffer, for compiled kernels.

    History k keeps ``History``'s layout in columns ``base[k] : base[k + 1]`` of
    ``buffer``, its positions ``(start, end)`` (relative to its region) in row k of
    ``positions``, so a kernel takes the three arrays (``arrays``) and reads and writes every
    history in place: ``wavedil.engine._jit.levels.reserve`` is ``History.reserve`` for
    it. ``arena[k]`` is history k as a ``History`` (``recent``, ``load``, ...) on the same
    buffer and positions. The owner sizes each region for its largest append: a region never
    grows (a new buffer would leave the kernel's behind), running out of it is an error.
    """

    def __init__(self, rows: int, sizes: Sequence[int] | np.ndarray, capacities: npt.ArrayLike,
                 dtype: npt.DTypeLike) -> None:
        self.base = np.concatenate([[0], np.cumsum(capacities, dtype=np.int64)]).astype(np.int64)
        self.buffer = np.zeros((rows, int(self.base[-1])), dtype)
        self.positions = np.zeros((len(sizes), 2), np.int64)
        self.arrays = (self.buffer, self.base, self.positions)  # what a kernel takes
        rows_shape = (self.buffer.shape[0],)
        self._histories = [
            _ArenaHistory(self.positions[k], self.buffer[:, self.base[k] : self.base[k + 1]],
                          rows_shape, size) for k, size in enumerate(sizes)]

    def __getitem__(self, k: int) -> History:
        return self._histories[k]

    def __len__(self) -> int:
        return len(self._histories)

    def __repr__(self) -> str:
        sizes = [h.size for h in self._histories]
        return f"HistoryArena(rows={self.buffer.shape[0]}, sizes={sizes}, dtype={self.dtype})"

    @property
    def dtype(self) -> np.dtype:
        return self.buffer.dtype


CACHE_LINE = 64  # bytes (x86-64, and most ARM cores)


def cache_aligned(size: int, dtype: npt.DTypeLike) -> np.ndarray:
    """An uninitialised 1-D array of ``size`` elements starting on a cache line (numpy
    aligns large arrays to 16 bytes only: rows of a whole number of lines would then each
    straddle one more, and the two threads of ``chain_threads``, each writing half of
    every row, would share a line per row)."""
    dtype = np.dtype(dtype)
    spare = np.empty(size * dtype.itemsize + CACHE_LINE, np.uint8)
    first = -spare.ctypes.data % CACHE_LINE
    return spare[first : first + size * dtype.itemsize].view(dtype)


def on_cache_line(array: np.ndarray) -> np.ndarray:
    """A copy of the 1-D ``array`` that starts on a cache line (``cache_aligned``): the
    compiled steps read their packed weights with vector loads, and a load that straddles
    two lines costs two."""
    out = cache_aligned(array.size, array.dtype)
    out[...] = array
    return out


class TimeMajorArena:
    """Time-major histories ``(B, capacity_k, C_k)`` of several widths in one flat buffer.

    The layout of a chain of convs (``wavedil.engine.fused``): history k keeps ``sizes[k]``
    samples of ``channels[k]`` channels in ``buffer[offset_k : offset_k + B * capacity_k *
    C_k]``. Row k of ``table`` is ``(offset_k, capacity_k, size_k, start_k, end_k)``, its
    positions last (``positions`` is that view), so a compiled kernel takes ``buffer`` and
    ``table`` and reserves with ``wavedil.engine._jit.chain.reserve``; ``arena[k]`` is
    history k as a ``History`` (``trailing_shape=(C_k,)``) on the same memory. Regions never
    grow: each takes appends of up to ``largest`` samples. The buffer starts uninitialised
    (no megabytes zeroed per stream): only kept and appended rows are ever read.
    """

    def __init__(self, batch: int, sizes: Sequence[int], channels: Sequence[int],
                 largest: int, dtype: npt.DTypeLike) -> None:
        sizes = [int(n) for n in sizes]
        capacities = [n + max(n, MIN_ROOM, int(largest)) for n in sizes]
        lengths = [batch * cap * c for cap, c in zip(capacities, channels)]
        offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)
        self.buffer = cache_aligned(int(offsets[-1]), dtype)
        self.table = np.zeros((len(sizes), 5), np.int64)
        self.table[:, :3] = np.array([offsets[:-1], capacities, sizes], np.int64).T
        self.positions = self.table[:, 3:]
        self.largest = int(largest)
        self._histories = [
            _ArenaHistory(self.positions[k], self.buffer[offsets[k] : offsets[k + 1]].reshape(
                batch, capacities[k], c), (batch,), size, (c,))
            for k, (size, c) in enumerate(zip(sizes, channels))]

    def __getitem__(self, k: int) -> History:
        return self._histories[k]

    def __len__(self) -> int:
        return len(self._histories)

    def __repr__(self) -> str:
        sizes = [h.size for h in self._histories]
        channels = [h.trailing_shape[0] for h in self._histories]
        return (f"TimeMajorArena(batch={self._histories[0].lead_shape[0] if sizes else 0}, "
                f"sizes={sizes}, channels={channels}, largest={self.largest}, "
                f"dtype={self.buffer.dtype})")


class _ArenaHistory(History):
    """A history of an arena: its region of the arena's buffer, its row of positions."""

    def __init__(self, positions: np.ndarray, region: np.ndarray, lead_shape: tuple[int, ...],
                 size: int, trailing_shape: tuple[int, ...] = ()) -> None:
        self._positions, self._region = positions, region
        self._capacity = region.shape[len(lead_shape)]
        super().__init__(lead_shape, size, region.dtype, trailing_shape)

    def _zeros(self, capacity: int) -> np.ndarray:
        return self._region  # the arena's region, never a buffer of its own

    @property
    def _start(self) -> int:
        return int(self._positions[0])

    @_start.setter
    def _start(self, value: int) -> None:
        self._positions[0] = value

    @property
    def _end(self) -> int:
        return int(self._positions[1])

    @_end.setter
    def _end(self, value: int) -> None:
        self._positions[1] = value

    def reserve(self, m: int) -> int:
        """``History.reserve`` on the positions row, read and written once each (the
        streams reserve per conv and chunk: element access costs add up)."""
        start, end = self._positions.tolist()
        if end + m > self._capacity:
            self._make_room(m)
            start, end = self._positions.tolist()
        positions = self._positions
        positions[0] = max(start, end + m - self.size)
        positions[1] = end + m
        return end

    def _make_room(self, m: int) -> None:
        capacity = self._buf.shape[len(self.lead_shape)]
        if len(self) + m > capacity:
            raise ValueError(f"a history of {len(self)} samples cannot take {m} more in its "
                             f"region of {capacity} samples")
        super()._make_room(m)
