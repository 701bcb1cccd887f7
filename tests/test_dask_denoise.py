"""The offline denoiser on Dask: exact statistics from blocks, and ``apply(denoise, x)``
equal to the in-memory ``denoise`` for any chunking.

Oracles: numpy's median (``noise_sigma``), ``level_thresholds`` (Bayes, SURE, universal)
and ``denoise`` itself on the whole signal.
"""

from contextlib import contextmanager

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
import wavedil.dask.statistics as statistics
from wavedil.dask import apply
from wavedil.wavelets.denoise import level_thresholds, noise_sigma


@contextmanager
def gathering(most):
    """``statistics.GATHER`` set to ``most`` values inside."""
    old, statistics.GATHER = statistics.GATHER, most
    try:
        yield
    finally:
        statistics.GATHER = old


def run_search(details, gains, threshold, sigma, cuts):
    """The search over the blocks ``details`` is cut into: ``(state, passes)``."""
    levels, rows, n = details.shape
    state = statistics.Statistics(levels, rows, n, gains, threshold, sigma, details.dtype)
    pieces = np.split(details, sorted(set(cuts)), axis=-1)
    passes = 0
    while not state.done:
        queries, moments, sums = state.queries()
        answers = [statistics.block_statistics(p, queries, moments, sums) for p in pieces]
        state = state.update(statistics.merge(*answers))
        passes += 1
        assert passes <= state.max_passes()
    return state, passes


@settings(max_examples=60)
@given(st.integers(1, 3000), st.integers(0, 2**31 - 1), st.sampled_from(["normal", "ties",
                                                                            "float32", "zeros"]),
       st.sampled_from([1, 3, 50, 1 << 18]), st.sampled_from(["bayes", "sure", "universal"]),
       st.lists(st.integers(1, 2999), max_size=6))
def test_statistics_from_blocks_equal_numpy(n, seed, kind, gather, threshold, cuts):
    rng = np.random.default_rng(seed)
    details = rng.standard_normal((3, 2, n)) * rng.uniform(0.01, 10, (3, 1, 1))
    if kind == "ties":
        details = np.round(details * 2) / 2
    elif kind == "float32":
        details = details.astype(np.float32)
    elif kind == "zeros":
        details[:, :, : n // 2] = 0
    gains = rng.uniform(0.2, 2.0, 3)
    with gathering(gather):
        state, passes = run_search(details, gains, threshold, None, [c for c in cuts if c < n])
    sigma = noise_sigma(details, gains)  # numpy's median, in the details' dtype
    np.testing.assert_array_equal(state.noise(), sigma)  # bit for bit
    want = level_thresholds(details, sigma, gains, threshold)
    np.testing.assert_allclose(state.lambdas(), want, rtol=1e-12, atol=0)
    if gather >= n:  # every wanted value is gathered at once
        assert passes <= (2 if threshold != "sure" else 4)


def test_statistics_with_given_sigma_need_no_median_and_numbers_need_no_pass():
    details = np.random.default_rng(0).standard_normal((2, 3, 500))
    sigma = np.array([0.5, 1.0, 2.0])
    state, passes = run_search(details, [1.0, 0.7], "sure", sigma, [100, 250])
    assert passes <= 4 and state.medians == []
    np.testing.assert_allclose(state.lambdas(), level_thresholds(details, sigma, [1.0, 0.7],
                                                                 "sure"), rtol=1e-12)
    fixed = statistics.Statistics(2, 3, 500, [1.0, 0.7], 2.5, sigma, np.float64)
    assert not fixed.needs_data
    np.testing.assert_allclose(fixed.lambdas(), 2.5 * np.outer([1.0, 0.7], sigma))


def noisy(length, rows=2, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    clean = np.stack([np.sin(2 * np.pi * t / 37), 0.5 * np.sign(np.sin(2 * np.pi * t / 500))])
    return (clean[:rows] + 0.3 * rng.standard_normal((rows, length))).astype(dtype)


OPTIONS = [{}, {"threshold": "sure"}, {"threshold": "universal"}, {"mode": "hard"},
           {"mode": "garrote", "levels": 6}, {"threshold": 2.0, "sigma": [0.3, 0.2]},
           {"sigma": 0.3, "levels": None}, {"wavelet": "starlet", "levels": 6},
           {"wavelet": "db4", "levels": 7, "boundary": "periodic"},
           {"wavelet": "starlet", "levels": 5, "boundary": "periodic", "threshold": "sure"},
           {"wavelet": "linear", "boundary": "zero", "alignment": "pywt", "levels": 8},
           {"wavelet": "haar", "boundary": "reflect", "alignment": "causal", "levels": 5},
           {"wavelet": "sym4", "boundary": "edge", "alignment": "pywt", "levels": 6}]


@settings(max_examples=25)
@given(st.lists(st.integers(1, 3000), min_size=1, max_size=6), st.sampled_from(OPTIONS),
       st.sampled_from([np.float64, np.float32]), st.integers(300, 9000))
def test_denoise_on_dask_equals_in_memory_for_any_chunking(chunks, options, dtype, length):
    x = noisy(length, dtype=dtype)
    sizes = []
    while sum(sizes) < length:
        sizes.append(min(chunks[len(sizes) % len(chunks)], length - sum(sizes)))
    lazy = apply(wavedil.denoise, da.from_array(x, chunks=(2, tuple(sizes))), **options)
    want = wavedil.denoise(x, **options)
    assert lazy.dtype == want.dtype and lazy.chunks[-1] == tuple(sizes)
    atol = 1e-12 if dtype == np.float64 else 1e-6  # measured: 0 to 3e-16, and 0
    np.testing.assert_allclose(lazy.compute(scheduler="threads"), want, rtol=0, atol=atol)


@pytest.mark.parametrize("threshold", ["bayes", "sure"])
def test_every_refinement_step_through_dask(monkeypatch, threshold):
    monkeypatch.setattr(statistics, "GATHER", 1)  # bins down to single values: 4 + 3 passes
    x = np.round(noisy(6000, seed=3) * 64) / 64  # many equal values
    lazy = apply(wavedil.denoise, da.from_array(x, chunks=(2, 700)), levels=5,
                 threshold=threshold, wavelet="db2")
    want = wavedil.denoise(x, levels=5, threshold=threshold, wavelet="db2")
    np.testing.assert_allclose(lazy.compute(), want, rtol=0, atol=1e-12)


def test_apply_denoise_is_lazy_and_batches_rows():
    def refuse(*args, **kwargs):
        raise AssertionError("apply computed something")

    x = noisy(5000, seed=4).reshape(2, 1, 5000)
    with dask.config.set(scheduler=refuse):
        lazy = apply(wavedil.denoise, da.from_array(x, chunks=(1, 1, 1000)), levels=6)
    np.testing.assert_allclose(lazy.compute(scheduler="threads"),
                               wavedil.denoise(x, levels=6), rtol=0, atol=1e-12)
    y = np.moveaxis(x, -1, 0)  # (T, 2, 1), time first
    lazy = apply(wavedil.denoise, da.from_array(y, chunks=(800, 2, 1)), axis=0, levels=6)
    np.testing.assert_allclose(lazy.compute(), wavedil.denoise(y, levels=6, axis=0), atol=1e-12)
