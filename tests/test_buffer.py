"""History: the window it returns is the tail of everything appended, and it stays bounded."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from wavedil.engine.history import MIN_ROOM, History


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
