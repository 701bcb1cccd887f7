"""History: the window it returns is the tail of everything appended, and it stays bounded."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from wavedil.buffer import MIN_ROOM, History


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
        assert history._buf.shape[-1] <= 2 * size + max(sizes) + MIN_ROOM
