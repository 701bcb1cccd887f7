"""The compiled passes of the streams equal the numpy formulas they replace, for any shape."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from wavedil._stream_kernels import (
    COPY,
    RELU,
    RELU_RESIDUAL_RELU,
    store_and_gather,
    store_and_gather_tm,
)


def numpy_act(src, residual, mode):
    """The numpy formulas of the TCN stream: copy, relu(h), relu(relu(h) + x)."""
    if mode == COPY:
        return src
    if mode == RELU:
        return np.maximum(src, 0)
    return np.maximum(np.maximum(src, 0) + residual, 0)


@given(st.integers(1, 3), st.integers(1, 5), st.integers(0, 40), st.integers(1, 4),
       st.integers(1, 9), st.integers(0, 30), st.sampled_from([COPY, RELU, RELU_RESIDUAL_RELU]),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2**16))
def test_store_and_gather_equals_numpy_for_any_shape(batch, channels, m, taps, dilation, extra,
                                                     mode, dtype, seed):
    rng = np.random.default_rng(seed)
    span = (taps - 1) * dilation
    slot = span + extra
    src = rng.standard_normal((batch, channels, m)).astype(dtype)
    residual = rng.standard_normal((batch, channels, m)).astype(dtype)
    buf = rng.standard_normal((batch, channels, slot + m + 7)).astype(dtype)
    rows = channels * taps
    col = np.full((batch, rows + 1, m + 3), 99, dtype)  # a spare row and spare columns
    expected_buf = buf.copy()
    expected_buf[..., slot : slot + m] = numpy_act(src, residual, mode)
    expected_col = col.copy()
    for k in range(taps):  # the oracle: the engine's im2col row order c * K + k
        start = slot - span + k * dilation
        expected_col[:, k:rows:taps, :m] = expected_buf[..., start : start + m]

    store_and_gather(src, residual, mode, buf, slot, span, dilation, taps, col)

    np.testing.assert_array_equal(buf, expected_buf)  # nothing outside the slot moves
    np.testing.assert_array_equal(col, expected_col)  # spare row and columns untouched


def test_store_and_gather_without_taps_only_stores():
    src = np.array([[[-1.0, 2.0, -3.0]]])
    out = np.zeros((1, 1, 3))
    store_and_gather(src, src, RELU, out, 0, 0, 0, 0, out)
    np.testing.assert_array_equal(out, [[[0.0, 2.0, 0.0]]])


@given(st.integers(1, 3), st.integers(1, 5), st.integers(0, 40), st.integers(1, 4),
       st.integers(1, 9), st.integers(0, 30), st.sampled_from([COPY, RELU, RELU_RESIDUAL_RELU]),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2**16))
def test_time_major_store_and_gather_equals_numpy_for_any_shape(batch, channels, m, taps,
                                                                dilation, extra, mode, dtype,
                                                                seed):
    rng = np.random.default_rng(seed)
    span = (taps - 1) * dilation
    slot = span + extra
    src = rng.standard_normal((batch, m, channels)).astype(dtype)
    residual = rng.standard_normal((batch, m, channels)).astype(dtype)
    buf = rng.standard_normal((batch, slot + m + 7, channels)).astype(dtype)
    cols = channels * taps
    col = np.full((batch, m + 3, cols + 1), 99, dtype)  # a spare column and spare rows
    expected_buf = buf.copy()
    expected_buf[:, slot : slot + m] = numpy_act(src, residual, mode)
    expected_col = col.copy()
    for k in range(taps):  # the oracle: tap-major columns k * C + c
        start = slot - span + k * dilation
        expected_col[:, :m, k * channels : (k + 1) * channels] = \
            expected_buf[:, start : start + m]

    store_and_gather_tm(src, residual, mode, buf, slot, span, dilation, taps, col)

    np.testing.assert_array_equal(buf, expected_buf)
    np.testing.assert_array_equal(col, expected_col)
