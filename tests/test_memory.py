"""Recycled outputs: reused only when nothing refers to them, never shared between results."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import pywt

from wavedil.engine import memory as recycle  # the module under test
from wavedil.wavelets.transform import atrous


@pytest.fixture
def recycle_everything(monkeypatch):
    """Recycle arrays of any size (the default starts at 32 MB), from an empty pool."""
    monkeypatch.setattr(recycle, "MIN_BYTES", 0)
    recycle.clear()
    yield
    recycle.clear()


def test_an_array_is_reused_only_once_no_view_of_it_lives(recycle_everything):
    a = recycle.empty((4, 10), np.float64)
    address = a.ctypes.data
    del a
    b = recycle.empty((4, 10), np.float64)
    assert b.ctypes.data == address
    row = b[1]  # a view keeps the memory taken
    del b
    assert recycle.empty((4, 10), np.float64).ctypes.data != address
    del row
    assert recycle.empty((4, 10), np.float64).ctypes.data == address
    assert recycle.empty((4, 10), np.float32).dtype == np.float32


def test_at_most_max_bytes_of_free_arrays_are_kept(recycle_everything, monkeypatch):
    monkeypatch.setattr(recycle, "MAX_BYTES", 1000)
    held = [recycle.empty((100,), np.float64) for _ in range(3)]  # 2400 bytes, all in use
    assert recycle.kept_bytes() == 2400
    del held
    recycle.empty((7,), np.float64)  # a new shape: the free ones are dropped to fit
    assert recycle.kept_bytes() <= 1000


def swt_details(x, wavelet, levels):
    return np.array(pywt.swt(x, wavelet, level=levels, trim_approx=True)[1:][::-1])


def test_results_kept_by_the_caller_are_never_overwritten(recycle_everything):
    rng = np.random.default_rng(0)
    signals = [rng.standard_normal(256) for _ in range(4)]
    kept = atrous(signals[0], "db2", 4, alignment="pywt")
    for x in signals[1:]:  # each call may reuse the memory of the one before, never kept's
        result = atrous(x, "db2", 4, alignment="pywt")
        np.testing.assert_allclose(result.details, swt_details(x, "db2", 4), atol=1e-12)
        del result
    np.testing.assert_allclose(kept.details, swt_details(signals[0], "db2", 4), atol=1e-12)


def test_transforms_in_threads_get_their_own_outputs(recycle_everything):
    rng = np.random.default_rng(1)
    signals = [rng.standard_normal(512) for _ in range(8)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda x: atrous(x, "haar", 5, alignment="pywt"), signals))
    for x, result in zip(signals, results):
        np.testing.assert_allclose(result.details, swt_details(x, "haar", 5), atol=1e-12)


def test_recycling_is_on_here_and_off_where_reference_counts_cannot_be_trusted(
        recycle_everything, monkeypatch):
    assert recycle.ENABLED  # CPython with the GIL: the interpreter CI runs
    monkeypatch.setattr(recycle, "ENABLED", False)
    recycle.empty((5,), np.float64)
    assert recycle.kept_bytes() == 0
