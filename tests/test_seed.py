"""The seed formula: N-D dilated convolution against scipy with the zero-filled kernel."""

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st

from wavedil.seed import dilate_kernel, dilated_convolve, dilated_correlate


def seed_inputs():
    matrix = np.zeros((9, 9))
    matrix[3:6, 4:7] = 1.0  # ones at rows 3-5, columns 4-6
    kernel = np.arange(1, 10, dtype=float).reshape(3, 3)
    return matrix, kernel


def test_seed_worked_example_matches_convolve2d_with_explicit_dilated_kernel():
    matrix, kernel = seed_inputs()
    explicit = np.zeros((7, 7))
    for i in range(3):
        for j in range(3):
            explicit[3 * i, 3 * j] = kernel[i, j]  # written out independently of dilate_kernel
    np.testing.assert_array_equal(dilate_kernel(kernel, 3), explicit)
    expected = scipy.signal.convolve2d(matrix, explicit, mode="valid")
    result = dilated_convolve(matrix, kernel, 3, mode="valid")
    assert result.shape == (3, 3)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12)
    # And by the seed formula itself, summing F(s) k(t) over s + 3t = p, at every p.
    by_formula = np.zeros((15, 15))
    for s in zip(*np.nonzero(matrix)):
        for t in np.ndindex(3, 3):
            by_formula[s[0] + 3 * t[0], s[1] + 3 * t[1]] += kernel[t]
    np.testing.assert_allclose(dilated_convolve(matrix, kernel, 3), by_formula, atol=1e-12)


def test_dilate_kernel_per_axis_and_dtype():
    k = np.array([[1, 2], [3, 4]], dtype=np.float32)
    out = dilate_kernel(k, (2, 3))
    assert out.shape == (3, 4) and out.dtype == np.float32
    assert out[2, 3] == 4 and out[0, 3] == 2 and np.count_nonzero(out) == 4


shapes = st.integers(1, 3).flatmap(
    lambda ndim: st.tuples(
        st.lists(st.integers(1, 12), min_size=ndim, max_size=ndim),
        st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim),
        st.lists(st.integers(1, 5), min_size=ndim, max_size=ndim),
    )
)


@given(shapes, st.sampled_from(["full", "same", "valid"]), st.integers(0, 2**31 - 1))
def test_dilated_convolve_and_correlate_equal_scipy_for_any_shape(shape, mode, seed):
    x_shape, k_shape, dilation = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    k = rng.standard_normal(k_shape)
    dk = dilate_kernel(k, dilation)
    fits = all(a >= b for a, b in zip(x.shape, dk.shape)) or all(
        a <= b for a, b in zip(x.shape, dk.shape))
    if mode == "valid" and not fits:
        with pytest.raises(ValueError, match="valid"):
            dilated_convolve(x, k, dilation, mode)
        return
    conv = dilated_convolve(x, k, dilation, mode)
    np.testing.assert_allclose(conv, scipy.signal.convolve(x, dk, mode, method="direct"),
                               rtol=1e-10, atol=1e-10)
    corr = dilated_correlate(x, k, dilation, mode)
    np.testing.assert_allclose(corr, scipy.signal.correlate(x, dk, mode, method="direct"),
                               rtol=1e-10, atol=1e-10)
    # The identity between the two spellings: correlation is convolution with k reversed.
    flipped = k[tuple(slice(None, None, -1) for _ in range(k.ndim))]
    np.testing.assert_allclose(corr, dilated_convolve(x, flipped, dilation, mode), atol=1e-12)


def test_dtypes_are_preserved_and_integers_become_float64():
    x32 = np.ones(8, np.float32)
    assert dilated_convolve(x32, np.ones(2, np.float32), 2).dtype == np.float32
    assert dilated_convolve(np.arange(5), np.array([1, 2]), 2).dtype == np.float64
    with pytest.raises(TypeError, match="complex128"):
        dilated_convolve(np.ones(4, complex), np.ones(2), 1)


def test_bad_inputs_quote_what_was_given():
    with pytest.raises(ValueError, match=r"\(4, 4\).*\(3,\)"):
        dilated_convolve(np.ones((4, 4)), np.ones(3), 1)
    with pytest.raises(ValueError, match="dilation must be an integer >= 1, got 0"):
        dilated_convolve(np.ones(4), np.ones(2), 0)
    with pytest.raises(ValueError, match="one value per axis"):
        dilate_kernel(np.ones((2, 2)), (1, 2, 3))
    with pytest.raises(ValueError, match="mode must be one of"):
        dilated_convolve(np.ones(4), np.ones(2), 1, mode="circular")
