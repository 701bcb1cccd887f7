"""The à trous transform's compiled loops, bitwise against numpy per-tap sums written here."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from wavedil.engine._jit.levels import analysis_rows, correlate_rows, synthesis_rows

DTYPES = [np.float32, np.float64]
CASES = dict(k=st.integers(1, 20), dilation=st.integers(1, 200), rows=st.integers(1, 3),
             n=st.sampled_from([1, 2, 5, 511, 512, 513, 1300]), x0=st.integers(0, 4),
             y0=st.integers(0, 4), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**31))


def per_tap(x, taps, dilation, x0, n):
    """numpy's per-tap formula: y = w0 x0; y += w1 x1; ... (tap order)."""
    y = taps[0] * x[:, x0 : x0 + n]
    for t in range(1, taps.size):
        y += taps[t] * x[:, x0 + t * dilation : x0 + t * dilation + n]
    return y


def data(seed, k, dilation, rows, n, x0, dtype):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, x0 + n + (k - 1) * dilation)).astype(dtype)
    return rng, x, rng.standard_normal(k).astype(dtype), rng.standard_normal(k).astype(dtype)


@given(**CASES)
def test_correlate_rows(k, dilation, rows, n, x0, y0, dtype, seed):
    _, x, taps, _ = data(seed, k, dilation, rows, n, x0, dtype)
    y = np.full((rows, y0 + n + 2), 7, dtype)
    correlate_rows(x, x0, taps, dilation, y, y0, n)
    np.testing.assert_array_equal(y[:, y0 : y0 + n], per_tap(x, taps, dilation, x0, n))
    assert np.all(y[:, :y0] == 7) and np.all(y[:, y0 + n :] == 7)  # nothing else written


@given(difference=st.booleans(), **CASES)
def test_analysis_rows_gives_both_outputs_of_a_level(difference, k, dilation, rows, n, x0, y0,
                                                     dtype, seed):
    rng, x, lo_taps, hi_taps = data(seed, k, dilation, rows, n, x0, dtype)
    left = int(rng.integers(0, (k - 1) * dilation + 1))
    scale = dtype(rng.choice([1.0, 1 / np.sqrt(2)]))
    lo, hi = np.empty((rows, y0 + n), dtype), np.empty((rows, y0 + n), dtype)
    hi_arg = np.zeros(0, dtype) if difference else hi_taps
    analysis_rows(x, x0, lo_taps, hi_arg, dilation, left, scale, lo, y0, hi, y0, n)
    expected_lo = per_tap(x, lo_taps, dilation, x0, n)
    if difference:  # numpy: w = c * scale; w -= c_next
        expected_hi = x[:, x0 + left : x0 + left + n] * scale
        expected_hi -= expected_lo
    else:
        expected_hi = per_tap(x, hi_taps, dilation, x0, n)
    np.testing.assert_array_equal(lo[:, y0:], expected_lo)
    np.testing.assert_array_equal(hi[:, y0:], expected_hi)


@given(**CASES)
def test_synthesis_rows_fuses_two_filters_the_sum_and_the_scale(k, dilation, rows, n, x0, y0,
                                                                dtype, seed):
    rng, c, lo_taps, hi_taps = data(seed, k, dilation, rows, n, x0, dtype)
    w = rng.standard_normal(c.shape).astype(dtype)
    gain = dtype(rng.choice([0.5, 1.0, 1 / 3]))
    y = np.empty((rows, y0 + n), dtype)
    synthesis_rows(c, w, x0, lo_taps, hi_taps, dilation, gain, y, y0, n)
    expected = per_tap(c, lo_taps, dilation, x0, n)  # numpy: c = lo(c); c += hi(w); c *= g
    expected += per_tap(w, hi_taps, dilation, x0, n)
    expected *= gain
    np.testing.assert_array_equal(y[:, y0:], expected)
