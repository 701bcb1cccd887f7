"""Dask scale-out equals the offline result for any block split."""

import dask.array as da
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wavedil.dask import apply
from wavedil.engine.conv import DilatedConv1d


def nonlinear_chain(seed):
    rng = np.random.default_rng(seed)
    layers = [DilatedConv1d(rng.standard_normal((2, 1, 3)), dilation=5, alignment="centered"),
              DilatedConv1d(rng.standard_normal((1, 2, 4)), dilation=3)]

    def op(x):
        return layers[1](np.tanh(layers[0](x)))

    halo = (layers[0].left + layers[1].left, layers[0].right + layers[1].right)
    return op, halo


@given(st.lists(st.integers(1, 60), min_size=1, max_size=8), st.integers(0, 2**31 - 1))
def test_blocks_with_halo_equal_offline_for_any_split(chunks, seed):
    op, halo = nonlinear_chain(seed)
    x = np.random.default_rng(seed).standard_normal((3, 1, sum(chunks)))
    lazy = apply(op, da.from_array(x, chunks=(3, 1, tuple(chunks))), halo=halo)
    assert lazy.chunks[-1] == tuple(chunks)
    np.testing.assert_allclose(lazy.compute(), op(x), rtol=0, atol=1e-12)


def test_a_too_small_halo_is_visible():
    op, (left, right) = nonlinear_chain(0)
    x = np.random.default_rng(1).standard_normal((1, 1, 200))
    short = apply(op, da.from_array(x, chunks=(1, 1, 50)), halo=(left - 1, right)).compute()
    assert np.max(np.abs(short - op(x))) > 1e-6


def test_time_axis_other_than_last_and_errors():
    op, halo = nonlinear_chain(2)
    x = np.random.default_rng(3).standard_normal((90, 1))  # (T, C=1): time first
    lazy = apply(op, da.from_array(x, chunks=(30, 1)), halo=halo, axis=0)
    assert lazy.shape == (90, 1)
    np.testing.assert_allclose(lazy.compute(), op(x.T).T, atol=1e-12)
    with pytest.raises(TypeError, match="dask array, got ndarray"):
        apply(op, x, halo=halo)
    with pytest.raises(ValueError, match=r"halo must be two integers >= 0, got \(-1, 0\)"):
        apply(op, da.from_array(x.T), halo=(-1, 0))
