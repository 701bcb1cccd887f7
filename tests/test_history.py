"""History: the window it returns is the tail of everything appended, and it stays bounded."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wavedil.engine.history import (
    CACHE_LINE,
    MIN_ROOM,
    DelayLine,
    History,
    HistoryArena,
    TimeMajorArena,
    cache_aligned,
)


@given(st.integers(0, 600), st.lists(st.integers(0, 700), min_size=1, max_size=30),
       st.sampled_from([np.float32, np.float64]))
def test_window_is_the_tail_of_the_appended_signal_for_any_chunking(size, sizes, dtype):
    rng = np.random.default_rng(size)
    signal = rng.standard_normal((2, 3, sum(sizes))).astype(dtype)
    history = History((2, 3), size, dtype)
    seen = 0
    for m in sizes:
        window = history.append(signal[..., seen : seen + m])
        seen += m
        # the oracle: numpy slicing of the whole signal
        np.testing.assert_array_equal(window, signal[..., max(0, seen - m - size) : seen])
        np.testing.assert_array_equal(history.recent(), signal[..., max(0, seen - size) : seen])
        assert history.buffer.shape[-1] <= 2 * size + max(sizes) + MIN_ROOM


@given(st.integers(0, 600), st.lists(st.integers(0, 700), min_size=1, max_size=30))
def test_reserved_slots_filled_in_place_keep_the_history_for_any_chunking(size, sizes):
    rng = np.random.default_rng(size)
    signal = rng.standard_normal((2, sum(sizes)))
    history = History((2,), size, np.float64)
    seen = 0
    for m in sizes:
        slot = history.reserve(m)
        history.buffer[..., slot : slot + m] = signal[..., seen : seen + m]
        seen += m
        # the samples before the slot are the history, as a compiled kernel reads them
        kept = min(size, seen - m)
        np.testing.assert_array_equal(history.buffer[..., slot - kept : slot + m],
                                      signal[..., seen - m - kept : seen])
        np.testing.assert_array_equal(history.recent(), signal[..., max(0, seen - size) : seen])
        assert history.buffer.shape[-1] <= 2 * size + max(sizes) + MIN_ROOM


@given(st.integers(0, 600), st.lists(st.integers(0, 700), min_size=1, max_size=30))
def test_time_major_history_keeps_the_tail_for_any_chunking(size, sizes):
    rng = np.random.default_rng(size)
    signal = rng.standard_normal((2, sum(sizes), 3))  # (B, T, C)
    history = History((2,), size, np.float64, trailing_shape=(3,))
    seen = 0
    for m in sizes:
        slot = history.reserve(m)
        history.buffer[:, slot : slot + m] = signal[:, seen : seen + m]
        seen += m
        kept = min(size, seen - m)
        np.testing.assert_array_equal(history.buffer[:, slot - kept : slot + m],
                                      signal[:, seen - m - kept : seen])
        np.testing.assert_array_equal(history.recent(), signal[:, max(0, seen - size) : seen])
        assert history.buffer.shape[1] <= 2 * size + max(sizes) + MIN_ROOM


@given(st.integers(0, 300), st.lists(st.integers(0, 256), min_size=1, max_size=30))
def test_the_compiled_reserve_is_history_reserve(size, sizes):
    """A ``HistoryArena``'s history, appended to by the compiled kernel's ``reserve``, is
    bit for bit the ``History`` that ``reserve`` got the same appends: buffer and window."""
    from wavedil.engine._jit.levels import reserve

    rng = np.random.default_rng(size)
    signal = rng.standard_normal((2, sum(sizes)))
    history = History((2,), size, np.float64)
    capacity = history.buffer.shape[-1]  # appends <= 256 never make it grow
    arena = HistoryArena(2, [3, size], [5, capacity], np.float64)  # history 1 after another
    buffer, base, positions = arena.arrays
    seen = 0
    for m in sizes:
        slot = history.reserve(m)
        history.buffer[:, slot : slot + m] = signal[:, seen : seen + m]
        column = reserve(buffer, base, positions, 1, size, m)
        buffer[:, column : column + m] = signal[:, seen : seen + m]
        seen += m
        assert column == base[1] + slot
        np.testing.assert_array_equal(buffer[:, base[1] :], history.buffer)
        np.testing.assert_array_equal(arena[1].recent(), history.recent())
        np.testing.assert_array_equal(history.recent(), signal[:, max(0, seen - size) : seen])
    assert len(arena[0]) == 0


def test_an_arena_history_loads_and_never_grows():
    arena = HistoryArena(1, [4], [10], np.float32)
    arena[0].load(np.arange(3, dtype=np.float32)[None])
    np.testing.assert_array_equal(arena[0].recent(), [[0, 1, 2]])
    assert arena.positions.tolist() == [[0, 3]]
    arena[0].append(np.ones((1, 6), np.float32))  # 3 kept + 6: fits
    np.testing.assert_array_equal(arena[0].recent(), [[1, 1, 1, 1]])
    with pytest.raises(ValueError, match="cannot take 7 more in its region of 10 samples"):
        arena[0].append(np.ones((1, 7), np.float32))


@given(st.integers(0, 300), st.lists(st.integers(0, 256), min_size=1, max_size=30),
       st.integers(1, 3))
def test_the_compiled_time_major_reserve_is_history_reserve(size, sizes, batch):
    """A ``TimeMajorArena``'s history, appended to by ``wavedil.engine._jit.chain.reserve``,
    keeps the tail of the signal exactly as a ``History`` that got the same appends."""
    from wavedil.engine._jit.chain import OFFSET, reserve

    rng = np.random.default_rng(size)
    signal = rng.standard_normal((batch, sum(sizes), 3))  # (B, T, C)
    history = History((batch,), size, np.float64, trailing_shape=(3,))
    arena = TimeMajorArena(batch, [4, size], [2, 3], max(sizes), np.float64)
    region = arena[1].buffer
    assert region.base is arena.buffer or region.base is arena.buffer.base  # a view
    seen = 0
    for m in sizes:
        slot = history.reserve(m)
        history.buffer[:, slot : slot + m] = signal[:, seen : seen + m]
        row = reserve(arena.buffer, arena.table, 1, batch, 3, m)
        region[:, row : row + m] = signal[:, seen : seen + m]
        seen += m
        np.testing.assert_array_equal(region[:, row - min(size, seen - m) : row + m],
                                      signal[:, max(0, seen - m - size) : seen])
        np.testing.assert_array_equal(arena[1].recent(), history.recent())
        np.testing.assert_array_equal(arena[1].recent(), signal[:, max(0, seen - size) : seen])
    assert len(arena[0]) == 0 and arena.table[1, OFFSET] == batch * arena.table[0, 1] * 2


def test_a_time_major_arena_history_loads_and_never_grows():
    arena = TimeMajorArena(2, [3, 5], [4, 1], 10, np.float32)
    assert arena.table[:, 1].tolist() == [3 + MIN_ROOM, 5 + MIN_ROOM]  # size + room
    past = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    arena[0].load(np.zeros((2, 1, 4), np.float32))
    arena[1].load(past[..., :1])
    np.testing.assert_array_equal(arena[1].recent(), past[..., :1])
    assert arena.positions.tolist() == [[0, 1], [0, 2]]
    np.testing.assert_array_equal(arena[0].recent(), 0)  # its own region
    with pytest.raises(ValueError, match=f"cannot take {MIN_ROOM + 4} more"):
        arena[1].append(np.ones((2, MIN_ROOM + 4, 1), np.float32))


@given(st.integers(0, 50), st.lists(st.integers(0, 80), min_size=1, max_size=20))
def test_a_delay_line_delays_by_its_delay_for_any_chunking(delay, sizes):
    signal = np.random.default_rng(delay).standard_normal((2, 3, sum(sizes)))
    line, parts, seen = DelayLine((2, 3), delay, np.float64), [], 0
    for m in sizes:
        parts.append(line.push(signal[..., seen : seen + m]))
        seen += m
        assert sum(p.shape[-1] for p in parts) == max(0, seen - delay)
    parts.append(line.drain())
    np.testing.assert_array_equal(np.concatenate(parts, -1), signal)
    assert len(line) == 0


@given(st.integers(1, 5000), st.sampled_from([np.float32, np.float64, np.int64, np.uint8]))
def test_cache_aligned_starts_on_a_line(size, dtype):
    a = cache_aligned(size, dtype)
    assert a.shape == (size,) and a.dtype == dtype and a.flags.writeable
    assert a.ctypes.data % CACHE_LINE == 0
    a[:] = 7  # every element its own
    assert (a == 7).all()


@given(st.integers(1, 3), st.lists(st.integers(1, 40), min_size=1, max_size=4),
       st.sampled_from([np.float32, np.float64]))
def test_time_major_arena_starts_on_a_cache_line(batch, sizes, dtype):
    """(numpy starts large arrays 16 bytes into a line: the two-thread step's halves of a
    row would then share one)"""
    arena = TimeMajorArena(batch, sizes, [64] * len(sizes), 32, dtype)
    assert arena.buffer.ctypes.data % CACHE_LINE == 0
    rows = [arena.buffer[o:].ctypes.data % CACHE_LINE for o in arena.table[:, 0]]
    assert rows == [0] * len(sizes)  # 64 channels: every region and row on a line
