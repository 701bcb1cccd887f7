"""``wavedil.engine._jit.blas.product_rows`` against numpy's matrix product."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from wavedil.engine._jit.blas import product_rows


@njit(cache=False)
def _product(a, a0, lda, b, b0, c, c0, ldc, m, n, k, accumulate):
    product_rows(a, a0, lda, b, b0, c, c0, ldc, m, n, k, accumulate)


def _rows(array, first, step, m, n):
    """The ``(m, n)`` view of rows ``step`` apart from ``array[first]``."""
    size = array.itemsize
    return np.lib.stride_tricks.as_strided(array[first:], (m, n), (step * size, size))


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 40), n=st.integers(1, 40), k=st.integers(1, 40),
       gaps=st.tuples(st.integers(0, 9), st.integers(0, 9)),
       offsets=st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50)),
       dtype=st.sampled_from([np.float32, np.float64]), accumulate=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_product_rows_matches_numpy(m, n, k, gaps, offsets, dtype, accumulate, seed):
    rng = np.random.default_rng(seed)
    lda, ldc = k + gaps[0], n + gaps[1]
    a0, b0, c0 = offsets
    a = rng.standard_normal(a0 + m * lda + 3).astype(dtype)
    b = rng.standard_normal(b0 + k * n + 3).astype(dtype)
    c = rng.standard_normal(c0 + m * ldc + 3).astype(dtype)
    before = c.copy()
    a_rows, b_rows = _rows(a, a0, lda, m, k), b[b0 : b0 + k * n].reshape(k, n)
    expected = a_rows.astype(np.float64) @ b_rows.astype(np.float64)
    if accumulate:
        expected += _rows(before, c0, ldc, m, n)
    _product(a, a0, lda, b, b0, c, c0, ldc, m, n, k, accumulate)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    scale = np.abs(expected).max() + 1
    np.testing.assert_allclose(_rows(c, c0, ldc, m, n), expected, rtol=0, atol=tol * scale)
    outside = np.ones(c.size, bool)
    for i in range(m):
        outside[c0 + i * ldc : c0 + i * ldc + n] = False
    np.testing.assert_array_equal(c[outside], before[outside])  # the gaps between rows too


def test_product_rows_refuses_mixed_dtypes():
    a = np.ones(4, np.float32)
    with pytest.raises(TypeError, match="one dtype"):
        _product(a, 0, 2, np.ones(4, np.float64), 0, a, 0, 2, 2, 2, 2, False)


def test_product_rows_refuses_integers():
    a = np.ones(4, np.int64)
    with pytest.raises(TypeError, match=r"float32 or float64.*got \(array\(int64"):
        _product(a, 0, 2, a, 0, a, 0, 2, 2, 2, 2, False)
