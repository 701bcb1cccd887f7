"""The engine's compiled depthwise path: bitwise the numpy per-tap formula, and the oracles."""


import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given
from hypothesis import strategies as st

from wavedil.engine.depthwise import depthwise_correlate

torch.set_num_threads(1)
DTYPES = [np.float32, np.float64]


def per_tap_reference(x, taps, dilation, n_out):
    """The numpy per-tap formula: y = w0 x0; y += w1 x1; ... (written here, independently)."""
    y = taps[:, 0, None] * x[..., :n_out]
    for t in range(1, taps.shape[1]):
        y += taps[:, t, None] * x[..., t * dilation : t * dilation + n_out]
    return y


@given(k=st.integers(1, 20), dilation=st.integers(1, 300), batch=st.integers(1, 3),
       channels=st.integers(1, 4), n_out=st.sampled_from([1, 2, 3, 7, 511, 512, 513, 1500]),
       dtype=st.sampled_from(DTYPES), offset=st.integers(0, 5), seed=st.integers(0, 2**31))
def test_bitwise_equal_to_the_numpy_per_tap_formula(k, dilation, batch, channels, n_out, dtype,
                                                    offset, seed):
    rng = np.random.default_rng(seed)
    n = n_out + (k - 1) * dilation
    # a window of a wider buffer, as a stream's history hands it over (rows not adjacent)
    x = rng.standard_normal((batch, channels, n + 9)).astype(dtype)[..., offset : offset + n]
    taps = rng.standard_normal((channels, k)).astype(dtype)
    y = depthwise_correlate(x, taps, dilation, n_out)
    assert y.dtype == dtype and y.shape == (batch, channels, n_out)
    np.testing.assert_array_equal(y, per_tap_reference(x, taps, dilation, n_out))


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_scipy_with_the_dilated_kernel(dtype):
    rng = np.random.default_rng(1)
    k, dilation, n_out = 5, 37, 2000
    x = rng.standard_normal((1, 1, n_out + (k - 1) * dilation)).astype(dtype)
    taps = rng.standard_normal((1, k)).astype(dtype)
    dilated = np.zeros((k - 1) * dilation + 1)
    dilated[::dilation] = taps[0]
    expected = scipy.signal.correlate(x[0, 0].astype(np.float64), dilated, mode="valid")
    y = depthwise_correlate(x, taps, dilation, n_out)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y[0, 0], expected, rtol=0, atol=tol * np.max(np.abs(expected)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_torch_depthwise_conv1d(dtype):
    rng = np.random.default_rng(2)
    batch, channels, k, dilation, n_out = 3, 4, 7, 9, 1000
    x = rng.standard_normal((batch, channels, n_out + (k - 1) * dilation)).astype(dtype)
    weight = rng.standard_normal((channels, 1, k)).astype(dtype)  # torch layout
    expected = torch.nn.functional.conv1d(torch.from_numpy(x).double(),
                                          torch.from_numpy(weight).double(),
                                          dilation=dilation, groups=channels).numpy()
    taps = weight[:, 0, :]  # (C, K)
    y = depthwise_correlate(x, taps, dilation, n_out)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, expected, rtol=0, atol=tol * np.max(np.abs(expected)))


def test_out_receives_the_result_and_bad_shapes_are_refused():
    x = np.arange(20.0).reshape(1, 1, 20)
    taps = np.array([[1.0, -1.0]])
    out = np.empty((1, 1, 17))
    assert depthwise_correlate(x, taps, 3, 17, out=out) is out
    np.testing.assert_array_equal(out, np.full((1, 1, 17), -3.0))
    with pytest.raises(ValueError, match=r"out must be float64 of shape \(1, 1, 17\), got "
                                         r"float64 \(1, 1, 16\)"):
        depthwise_correlate(x, taps, 3, 17, out=np.empty((1, 1, 16)))
    with pytest.raises(ValueError, match=r"expected x of shape \(1, 1, >= 21\), got"):
        depthwise_correlate(x, taps, 3, 18)
    with pytest.raises(ValueError, match=r"taps must be \(C, K\), got shape \(2, 1, 1\)"):
        depthwise_correlate(x, taps.reshape(2, 1, 1), 3, 17)
