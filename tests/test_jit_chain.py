"""The compiled step of a chain of residual blocks (wavedil.engine._jit.chain and
wavedil.engine.blocks) against its definitions, and the TCN stream that switches between
it and the BLAS path.

Oracles: the documented summation order written as numpy float operations (bit for bit),
the causal conv and TCN block equations in float64 (within the dtype's tolerance), and the
offline call.
"""

import numpy as np
import pytest
from helpers import TOL
from hypothesis import given, settings
from hypothesis import strategies as st

from wavedil.engine._jit.chain import SQUARE_WIDTHS, blas_product, product
from wavedil.engine.blocks import ResidualChainStep
from wavedil.engine.conv import DilatedConv1d
from wavedil.engine.fused import FusedChain, FusedConv
from wavedil.models.stack import TCN
from wavedil.models.tcn import STEP_SAMPLES

DTYPES = st.sampled_from([np.float32, np.float64])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 11), st.integers(1, 19), st.integers(1, 19), st.integers(1, 4),
       st.integers(0, 5), st.integers(0, 7), DTYPES, st.integers(0, 2**16))
def test_product_sums_bias_then_rows_in_order(m, c_in, c_out, taps, dilation, offset, dtype,
                                              seed):
    """Each output starts from its bias, then per tap the channels in groups of four,
    ``y + ((x_0 w_0 + x_1 w_1) + (x_2 w_2 + x_3 w_3))``, the rest one by one, one rounding
    per operation: bit for bit the numpy loop that does just that."""
    check_product_order(m, c_in, c_out, taps, dilation, offset, dtype, seed)


@settings(max_examples=16, deadline=None)
@given(st.sampled_from(SQUARE_WIDTHS), st.integers(1, 5), st.integers(1, 3), st.integers(0, 3),
       DTYPES, st.integers(0, 2**16))
def test_square_widths_compiled_as_constants_sum_in_the_same_order(width, m, taps, dilation,
                                                                   dtype, seed):
    """The copies of the one-row product compiled for a constant width: the same bits."""
    check_product_order(m, width, width, taps, dilation, 3, dtype, seed)


def check_product_order(m, c_in, c_out, taps, dilation, offset, dtype, seed):
    rng = np.random.default_rng(seed)
    span = (taps - 1) * dilation
    src = rng.standard_normal(offset + (m + span) * c_in + 5).astype(dtype)
    weights = rng.standard_normal(3 + (taps * c_in + 1) * c_out).astype(dtype)
    dst = np.full(2 + m * c_out + 4, 99, dtype)
    w = weights[3 : 3 + taps * c_in * c_out].reshape(taps * c_in, c_out)
    bias = weights[3 + taps * c_in * c_out :]
    expected = dst.copy()
    for t in range(m):
        y = bias.copy()
        for k in range(taps):
            terms = [src[offset + (t + k * dilation) * c_in + c] * w[k * c_in + c]
                     for c in range(c_in)]  # numpy rounds each product to dtype
            fours = c_in - c_in % 4
            for c in range(0, fours, 4):
                y = y + ((terms[c] + terms[c + 1]) + (terms[c + 2] + terms[c + 3]))
            for c in range(fours, c_in):
                y = y + terms[c]
        expected[2 + t * c_out : 2 + (t + 1) * c_out] = y

    product(src, offset, c_in, dilation * c_in, taps, c_in, weights, 3, c_out, dst, 2, m)

    np.testing.assert_array_equal(dst, expected)


def direct(u, weight, bias, dilation, m):
    """The last ``m`` outputs of a causal dilated conv of the time-major ``u`` ``(B, T,
    C_in)``, in float64: ``y[n] = b + sum_t w[:, :, t] u[n - d (K-1-t)]``."""
    k, n = weight.shape[2], u.shape[1]
    y = np.zeros((u.shape[0], m, weight.shape[0])) + bias
    for t in range(k):
        lag = dilation * (k - 1 - t)
        y += u[:, n - m - lag : n - lag].astype(np.float64) @ weight[:, :, t].T
    return y


def relu(v):
    return np.maximum(v, 0)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 9), st.integers(1, 6), st.integers(1, 5),
       st.sampled_from([2, 3]), st.lists(st.integers(1, 6), min_size=1, max_size=3),
       st.booleans(), st.booleans(), st.integers(0, 4), DTYPES, st.integers(0, 2**16))
def test_the_step_computes_the_block_equations(batch, m, c_in, width, taps, dilations,
                                               project, head, lag, dtype, seed):
    """Blocks ``relu(relu(conv2(relu(conv1(u)))) + r)``, ``r`` the block input ``lag``
    samples back (or its 1x1 projection), then a 1x1 head: against the equations in float64
    on the histories' pasts and the chunk."""
    rng = np.random.default_rng(seed)
    convs, blocks, params, widths = {}, [], [], [c_in] + [width] * len(dilations)
    for i, d in enumerate(dilations):
        c_a, c_b = widths[i], widths[i + 1]
        lag_i = min(lag, (taps - 1) * d)  # the residual reads the block input's history
        pair = [DilatedConv1d(rng.standard_normal((c_b, c, taps)), rng.standard_normal(c_b),
                              dilation=d) for c in (c_a, c_b)]
        convs[f"b{i}.1"], convs[f"b{i}.2"] = (FusedConv(layer, dtype) for layer in pair)
        projection = None
        if project or c_a != c_b:
            projection = (rng.standard_normal((c_a, c_b)).astype(dtype),
                          rng.standard_normal(c_b).astype(dtype))
        blocks.append((f"b{i}.1", f"b{i}.2", projection, lag_i))
        params.append((pair, projection, lag_i))
    head_conv = (rng.standard_normal((width, 2)).astype(dtype),
                 rng.standard_normal(2).astype(dtype)) if head else None
    chain = FusedChain(convs, 64)
    histories = chain.new_state(batch, dtype)
    for name, conv in convs.items():  # random pasts
        histories[name].load(rng.standard_normal((batch, conv.span, conv.layer.in_channels)))
    pasts = {name: h.recent().copy() for name, h in histories.items()}
    x = rng.standard_normal((batch, c_in, m)).astype(dtype)

    y = ResidualChainStep(chain, blocks, head_conv, dtype)(x, histories)

    u = x.transpose(0, 2, 1).astype(np.float64)  # the block input, time-major
    for i, (pair, projection, lag_i) in enumerate(params):
        first = np.concatenate([pasts[f"b{i}.1"], u], 1)
        h = relu(direct(first, pair[0].weight, pair[0].bias, pair[0].dilation, m))
        second = np.concatenate([pasts[f"b{i}.2"], h], 1)
        out = direct(second, pair[1].weight, pair[1].bias, pair[1].dilation, m)
        r = first[:, first.shape[1] - m - lag_i : first.shape[1] - lag_i]
        if projection is not None:
            r = r @ projection[0].astype(np.float64) + projection[1]
        u = relu(relu(out) + r)
        # the histories now end with what each conv was fed
        kept = min(m, pair[1].span)
        np.testing.assert_allclose(histories[f"b{i}.2"].recent()[:, -kept:], h[:, -kept:],
                                   rtol=0, atol=TOL[dtype] * max(1, np.abs(h).max()))
    if head_conv is not None:
        u = u @ head_conv[0].astype(np.float64) + head_conv[1]
    expected = u.transpose(0, 2, 1)
    assert y.dtype == dtype and y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=0,
                               atol=TOL[dtype] * max(1, np.abs(expected).max()))


def test_the_step_waits_for_full_histories_and_touches_nothing():
    rng = np.random.default_rng(0)
    layer = DilatedConv1d(rng.standard_normal((2, 2, 3)), rng.standard_normal(2), dilation=2)
    chain = FusedChain({"a": FusedConv(layer, np.float64), "b": FusedConv(layer, np.float64)},
                       16)
    histories = chain.new_state(1, np.float64)
    histories["b"].load(np.ones((1, 3, 2)))  # 3 of its 4 samples
    step = ResidualChainStep(chain, [("a", "b", None, 0)], None, np.float64)
    arena = histories.arena
    before = arena.buffer.copy(), arena.table.copy()
    assert step(np.ones((1, 2, 1)), histories) is None
    np.testing.assert_array_equal(arena.buffer, before[0])
    np.testing.assert_array_equal(arena.table, before[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_step_packs_its_weights_on_a_cache_line(dtype):
    """(vector loads that straddle two lines cost two: the weight read per sample is the
    one-sample step's bound); the split weights of two threads too, the values unchanged"""
    rng = np.random.default_rng(0)
    layer = DilatedConv1d(rng.standard_normal((64, 64, 3)), rng.standard_normal(64))
    chain = FusedChain({"a": FusedConv(layer, dtype), "b": FusedConv(layer, dtype)}, 16)
    step = ResidualChainStep(chain, [("a", "b", None, 0)], None, dtype)
    weights, offsets = step.parts(2)
    assert step.weights.ctypes.data % 64 == 0 and weights.ctypes.data % 64 == 0
    assert step.weights.dtype == weights.dtype == dtype
    np.testing.assert_array_equal(weights[offsets[2, 0]:], step.weights)


MODEL = TCN(3, [5, 4, 4], kernel_size=3, dilations=[1, 2, 8], out_channels=2, seed=7)


def feed(stream, x, sizes):
    parts, start, i = [], 0, 0
    while start < x.shape[-1]:
        parts.append(stream.process(x[..., start : start + sizes[i % len(sizes)]]))
        start, i = start + sizes[i % len(sizes)], i + 1
    return np.concatenate(parts, -1)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, STEP_SAMPLES), min_size=1, max_size=6), DTYPES,
       st.integers(0, 2**16))
def test_short_chunks_agree_with_the_offline_call_whatever_the_chunking(sizes, dtype, seed):
    """Chunks that all take the compiled step (loops for one sample, BLAS products from
    two): any chunking equals chunk 1 and the offline result within the tolerance."""
    x = np.random.default_rng(seed).standard_normal((2, 3, 150)).astype(dtype)
    ones = feed(MODEL.stream(), x, [1])
    offline = MODEL(x)
    scale = TOL[dtype] * np.abs(offline).max()
    np.testing.assert_allclose(feed(MODEL.stream(), x, sizes), ones, rtol=0, atol=scale)
    np.testing.assert_allclose(ones, offline, rtol=0, atol=scale)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 70), st.integers(1, 19), st.integers(1, 19), st.integers(1, 4),
       st.integers(0, 5), st.integers(0, 7), DTYPES, st.integers(0, 2**16))
def test_blas_product_is_the_conv_sum(m, c_in, c_out, taps, dilation, offset, dtype, seed):
    """``blas_product`` writes ``bias + sum_k sum_c src[...] w[...]`` for ``m`` rows and
    nothing else: numpy's float64 einsum within the dtype's tolerance."""
    rng = np.random.default_rng(seed)
    span = (taps - 1) * dilation
    src = rng.standard_normal(offset + (m + span) * c_in + 5).astype(dtype)
    weights = rng.standard_normal(3 + (taps * c_in + 1) * c_out).astype(dtype)
    dst = np.full(2 + m * c_out + 4, 99, dtype)
    w = weights[3 : 3 + taps * c_in * c_out].reshape(taps, c_in, c_out).astype(np.float64)
    bias = weights[3 + taps * c_in * c_out :].astype(np.float64)
    rows = np.stack([src[offset + (np.arange(m) + k * dilation)[:, None] * c_in
                         + np.arange(c_in)] for k in range(taps)]).astype(np.float64)
    expected = bias + np.einsum("ktc,kco->to", rows, w)

    blas_product(src, offset, c_in, dilation * c_in, taps, c_in, weights, 3, c_out, dst, 2, m)

    np.testing.assert_allclose(dst[2 : 2 + m * c_out].reshape(m, c_out), expected, rtol=0,
                               atol=TOL[dtype] * max(1, np.abs(expected).max()) * c_in * taps)
    assert (dst[:2] == 99).all() and (dst[2 + m * c_out :] == 99).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_state_saved_on_the_step_continues_on_the_blas_path(dtype):
    """A stream that ran chunk-1 steps, saved, then a chunk of 512: the same output from
    the stream and from a fresh one loaded with the state, equal to the offline result."""
    x = np.random.default_rng(1).standard_normal((1, 3, 812)).astype(dtype)
    stream = MODEL.stream()
    head = feed(stream, x[..., :300], [1])
    state = stream.state_dict()
    fresh = MODEL.stream()
    fresh.load_state_dict(state)
    tail = stream.process(x[..., 300:])
    np.testing.assert_array_equal(fresh.process(x[..., 300:]), tail)
    np.testing.assert_array_equal(feed(fresh, x[..., :40], [1, 3]),
                                  feed(stream, x[..., :40], [1, 3]))  # and back
    offline = MODEL(x)
    np.testing.assert_allclose(np.concatenate([head, tail], -1), offline, rtol=0,
                               atol=TOL[dtype] * np.abs(offline).max())


def test_convs_share_an_input_block_only_with_the_same_bias():
    """A conv without bias whose im2col is as wide as another's with its column of ones
    (K C_in + 1) gets a block of its own: its gather would overwrite those ones."""
    rng = np.random.default_rng(0)
    with_bias = DilatedConv1d(rng.standard_normal((3, 4, 1)), rng.standard_normal(3))
    without = DilatedConv1d(rng.standard_normal((3, 5, 1)), None)
    chain = FusedChain({"a": FusedConv(with_bias, np.float64),
                        "b": FusedConv(without, np.float64)}, 16)
    assert chain.convs["a"].weight.shape == chain.convs["b"].weight.shape  # (5, 3)
    blocks = chain.inputs_blocks(2, 4, np.float64)
    assert not np.shares_memory(blocks["a"], blocks["b"])
    np.testing.assert_array_equal(blocks["a"][..., -1], 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [1, 7, 40])
def test_prefetching_the_next_rows_changes_nothing(dtype, m):
    """``prefetch_appends`` (after each step) only hints the cache: every byte of the
    arena and its table stay as they were, also where the next append would move the kept
    rows first (region ends) or reach past the buffer (last region)."""
    from wavedil.engine._jit.chain import END, prefetch_appends
    from wavedil.engine.history import TimeMajorArena

    arena = TimeMajorArena(2, [2, 5, 3], [4, 3, 6], 16, dtype)
    arena.buffer[:] = np.random.default_rng(m).standard_normal(arena.buffer.size)
    arena.table[:, END] = [5, arena.table[1, 1] - 2, arena.table[2, 1]]  # room, full, full
    arena.table[:, END - 1] = arena.table[:, END] - arena.table[:, 2]
    buffer, table = arena.buffer.copy(), arena.table.copy()
    prefetch_appends(arena.buffer, arena.table, 2, m)
    np.testing.assert_array_equal(arena.buffer, buffer)
    np.testing.assert_array_equal(arena.table, table)


def test_prefetch_write_takes_only_a_1d_array_and_an_index():
    from numba import njit
    from numba.core.errors import TypingError

    from wavedil.engine._jit.prefetch import prefetch_write

    @njit
    def touch(a, i):
        prefetch_write(a, i)

    touch(np.zeros(4), 2)
    with pytest.raises((TypeError, TypingError), match="1-D array and an integer"):
        touch(np.zeros((2, 2)), 1)
