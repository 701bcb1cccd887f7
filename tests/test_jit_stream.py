"""The compiled passes of the streams equal the numpy formulas they replace, for any shape."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from wavedil.engine._jit.stream import (
    ADD,
    COPY,
    RELU,
    RELU_RESIDUAL_RELU,
    gather_tm,
    store_and_gather,
    store_and_gather_tm,
    winograd_gather,
    winograd_store,
)
from wavedil.engine.conv import DilatedConv1d
from wavedil.engine.fused import WINOGRAD_MIN_SAMPLES, FusedConv

MODES = [COPY, RELU, RELU_RESIDUAL_RELU, ADD]
DTYPES, SEEDS = st.sampled_from([np.float32, np.float64]), st.integers(0, 2**16)


def numpy_act(src, residual, mode):
    """The numpy formulas of the streams: copy, relu(h), relu(relu(h) + x), h + x."""
    if mode == COPY:
        return src
    if mode == RELU:
        return np.maximum(src, 0)
    if mode == ADD:
        return src + residual
    return np.maximum(np.maximum(src, 0) + residual, 0)


@given(st.integers(1, 3), st.integers(1, 5), st.integers(0, 40), st.integers(1, 4),
       st.integers(1, 9), st.integers(0, 30), st.sampled_from(MODES),
       DTYPES, SEEDS)
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
       st.integers(1, 9), st.integers(0, 30), st.sampled_from(MODES),
       DTYPES, SEEDS)
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


@given(st.integers(1, 3), st.integers(1, 5), st.integers(0, 40), st.integers(1, 4),
       st.integers(1, 9), st.integers(0, 30), DTYPES, SEEDS)
def test_time_major_gather_alone_equals_numpy(batch, channels, m, taps, dilation, extra, dtype,
                                              seed):
    rng = np.random.default_rng(seed)
    span = (taps - 1) * dilation
    slot = span + extra
    buf = rng.standard_normal((batch, slot + m + 7, channels)).astype(dtype)
    col = np.full((batch, m + 3, channels * taps + 1), 99, dtype)
    expected = col.copy()
    for k in range(taps):
        start = slot - span + k * dilation
        expected[:, :m, k * channels : (k + 1) * channels] = buf[:, start : start + m]
    before = buf.copy()

    gather_tm(buf, slot, m, span, dilation, taps, col)

    np.testing.assert_array_equal(col, expected)
    np.testing.assert_array_equal(buf, before)


def direct_causal_conv(past_and_chunk, weight, bias, dilation, m):
    """The oracle: ``y[n] = b + sum_t w[:, :, t] x[n - d (K - 1 - t)]`` over the last ``m``
    samples of a time-major ``(B, T, C_in)`` signal, summed in float64."""
    x = past_and_chunk.astype(np.float64)
    k, n0 = weight.shape[2], x.shape[1] - m
    y = np.zeros((x.shape[0], m, weight.shape[0])) + bias
    for t in range(k):
        start = n0 - dilation * (k - 1 - t)
        y += x[:, start : start + m] @ weight[:, :, t].T
    return y


@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.integers(1, 9),
       st.integers(1, 4), st.integers(0, 20), st.sampled_from(MODES),
       DTYPES, SEEDS)
def test_winograd_conv_equals_the_direct_formula(batch, c_in, c_out, dilation, tiles, extra,
                                                  mode, dtype, seed):
    """gather -> four products -> store == act(direct conv) for any shape, dilation, mode."""
    rng = np.random.default_rng(seed)
    m = 2 * dilation * tiles
    layer = DilatedConv1d(rng.standard_normal((c_out, c_in, 3)), rng.standard_normal(c_out),
                          dilation=dilation)
    conv = FusedConv(layer, dtype)
    slot = 2 * dilation + extra
    buf = rng.standard_normal((batch, slot + m + 5, c_in)).astype(dtype)
    u = np.full((4, batch, m // 2, c_in), 99, dtype)
    winograd_gather(buf, slot, dilation, u)
    products = conv.product(u)
    residual = rng.standard_normal((batch, m, c_out)).astype(dtype)
    out = rng.standard_normal((batch, m + 9, c_out)).astype(dtype)
    expected_out = out.copy()
    y = direct_causal_conv(buf[:, : slot + m], layer.weight, layer.bias, dilation, m)
    expected_out[:, 4 : 4 + m] = numpy_act(y, residual, mode)

    winograd_store(products.prods, products.bias, dilation, residual, mode, out, 4)

    tol = 1e-5 if dtype == np.float32 else 1e-12
    scale = np.abs(y).max()
    np.testing.assert_allclose(out, expected_out, rtol=0, atol=tol * scale)
    np.testing.assert_array_equal(out[:, :4], expected_out[:, :4])  # outside the slot
    np.testing.assert_array_equal(out[:, 4 + m :], expected_out[:, 4 + m :])


def test_winograd_is_taken_for_long_chunks_in_whole_tiles_of_three_taps():
    rng = np.random.default_rng(0)
    three = FusedConv(DilatedConv1d(rng.standard_normal((2, 2, 3)), dilation=4), np.float32)
    two = FusedConv(DilatedConv1d(rng.standard_normal((2, 2, 2)), dilation=4), np.float32)
    m = WINOGRAD_MIN_SAMPLES
    assert three.uses_winograd(m) and three.uses_winograd(m + 8)
    assert not three.uses_winograd(m + 4)  # not whole tiles of 2 * 4
    assert not three.uses_winograd(m - 8)  # short chunks keep the one-pass im2col path
    assert not two.uses_winograd(m)
    assert three.inputs_block(2, m, np.float32).shape == (4, 2, m // 2, 2)
    assert three.inputs_block(2, m - 8, np.float32).shape == (2, m - 8, 6)  # no bias column
