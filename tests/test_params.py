"""Parameter checks at construction (wavedil.engine.params): the issue's cases, the memory
budget, and the seed formula's numpy semantics for non-finite samples."""

import re
import time
import tracemalloc

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st

import wavedil
from wavedil.engine import params


def direct_convolve(x, k, d):
    """The seed formula term by term: y[p] = sum_t x[p - t d] k[t], every tap counted."""
    n, taps = len(x), len(k)
    out = np.zeros(n + (taps - 1) * d)
    with np.errstate(invalid="ignore"):
        for p in range(out.size):
            terms = [x[p - t * d] * k[t] for t in range(taps) if 0 <= p - t * d < n]
            out[p] = np.sum(terms) if terms else 0.0
    return out


SAMPLES = st.one_of(st.floats(-100, 100), st.sampled_from([np.inf, -np.inf, np.nan, 0.0]))


@given(x=st.lists(SAMPLES, min_size=1, max_size=12), k=st.lists(SAMPLES, min_size=1, max_size=4),
       d=st.integers(1, 4), mode=st.sampled_from(["full", "same", "valid"]))
def test_dilated_convolve_has_numpy_semantics_for_any_samples(x, k, d, mode):
    """Zero taps count (0 * inf is NaN), as in np.convolve (d = 1) and the seed formula."""
    x, k = np.array(x), np.array(k)
    full = direct_convolve(x, k, d)
    eff = (len(k) - 1) * d + 1
    if mode == "valid" and not (len(x) >= eff or eff >= len(x)):
        return
    with wavedil.nonfinite("confine"):  # (the default policy refuses non-finite input)
        got = wavedil.dilated_convolve(x, k, d, mode)
    start, length = {"full": (0, full.size), "same": ((eff - 1) // 2, len(x)),
                     "valid": (min(len(x), eff) - 1, abs(len(x) - eff) + 1)}[mode]
    np.testing.assert_allclose(got, full[start:start + length], rtol=1e-12, atol=1e-9)
    if d == 1 and (mode != "same" or len(x) >= len(k)):  # (numpy's "same" is max(M, N) long)
        with np.errstate(invalid="ignore"):
            expected = np.convolve(x, k, mode)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-9)
    if np.all(np.isfinite(x)) and np.all(np.isfinite(k)):
        reference = scipy.signal.convolve(x, wavedil.dilate_kernel(k, d), mode, method="direct")
        np.testing.assert_allclose(got, reference, rtol=1e-12, atol=1e-9)


def test_zero_tap_times_inf_is_nan():
    with wavedil.nonfinite("confine"):
        got = wavedil.dilated_convolve([np.inf, 1.0], [0.0, 1.0])
    np.testing.assert_array_equal(got, np.convolve([np.inf, 1.0], [0.0, 1.0]))


def test_huge_dilation_same_computes_only_the_kept_part():
    x, k = np.random.default_rng(0).standard_normal(200), np.array([1.0, 2.0, 3.0])
    tracemalloc.start()
    try:
        y = wavedil.dilated_convolve(x, k, 2**40, mode="same")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 200 * 8
    np.testing.assert_array_equal(y, 2.0 * x)  # only the middle tap lands on the window
    with pytest.raises(ValueError, match=r"dilation=\(1099511627776,\).*memory budget"):
        wavedil.dilated_convolve(x, k, 2**40, mode="full")


@pytest.mark.parametrize("make, names", [
    (lambda: wavedil.DilatedConv1d(np.ones((1, 1, 2)), dilation=2**40), ("dilation", "TiB")),
    (lambda: wavedil.DenoiseStream(window=10**12), ("window", "TiB")),
    (lambda: wavedil.AtrousStream("db2", levels=40), ("levels",)),
    (lambda: wavedil.TCN(1, 4, dilations=[2**40]), ("dilation", "TiB")),
    (lambda: wavedil.CWTStream(octaves=40), ("octaves", "TiB")),
    (lambda: wavedil.noise_gain("db2", 40), ("level", "TiB")),
    (lambda: wavedil.dilation_schedule(10**9), ("layers",)),
    (lambda: wavedil.dilated_convolve([1.0, 2.0], [1.0], 2.0), ("dilation",)),
    (lambda: wavedil.atrous(np.ones(64), "db2", 3, norm="no"), ("norm",)),
    (lambda: wavedil.AtrousStream("db2", 3, norm=1), ("norm",)),
    (lambda: wavedil.cwt(np.ones(64), decimate="yes"), ("decimate",)),
    (lambda: wavedil.LayerSpec(3, bias=0), ("bias",)),
])
def test_costly_or_malformed_parameters_are_refused_at_construction(make, names):
    start = time.perf_counter()
    with pytest.raises((ValueError, TypeError)) as caught:
        make()
    assert time.perf_counter() - start < 2.0
    for name in names:
        assert name in str(caught.value), str(caught.value)


def test_plan_dilations_of_a_million_samples_is_quick():
    start = time.perf_counter()
    plan = wavedil.plan_dilations(samples=10**6)
    assert time.perf_counter() - start < 5.0
    assert plan.candidates and all(c.receptive_field >= 10**6 for c in plan.candidates)


def test_a_chunk_of_another_dtype_is_named_as_given():
    stream = wavedil.AtrousStream("haar", 2)
    stream.process(np.zeros(8, np.float32))
    with pytest.raises(TypeError, match=r"carries float32, got a chunk of int16 \(read as "
                                        r"float64\).*astype"):
        stream.process(np.zeros(8, np.int16))


def test_numpy_integers_are_integers():
    x = np.random.default_rng(1).standard_normal(64)
    np.testing.assert_array_equal(wavedil.atrous(x, "db2", np.int64(3)).stack(),
                                  wavedil.atrous(x, "db2", 3).stack())
    assert wavedil.dilation_schedule(np.int32(3)) == [1, 2, 4]


def test_the_budget_is_one_setting_and_can_be_raised(monkeypatch):
    weight = np.ones((1, 1, 2))
    previous = params.set_memory_budget(1 << 20)
    try:
        with pytest.raises(ValueError, match=r"dilation=2000000.*30.5 MiB.*1 MiB.*"
                                             r"set_memory_budget"):
            wavedil.DilatedConv1d(weight, dilation=2_000_000)
        params.set_memory_budget(1 << 30)
        assert wavedil.DilatedConv1d(weight, dilation=2_000_000).dilation == 2_000_000
    finally:
        params.set_memory_budget(previous)
    monkeypatch.setenv("WAVEDIL_MEMORY_BUDGET", "2M")
    previous = params.set_memory_budget(None)
    try:
        assert params.memory_budget() == 2 << 20
        monkeypatch.setenv("WAVEDIL_MEMORY_BUDGET", "lots")
        with pytest.raises(ValueError, match="WAVEDIL_MEMORY_BUDGET"):
            params.memory_budget()
        monkeypatch.delenv("WAVEDIL_MEMORY_BUDGET")
        assert params.memory_budget() == params.DEFAULT_MEMORY_BUDGET
    finally:
        params.set_memory_budget(previous)


@pytest.mark.parametrize("value, error", [(True, TypeError), (2.0, TypeError), ("3", TypeError),
                                          (0, ValueError), (np.int8(3), None)])
def test_integer_and_flag(value, error):
    if error is None:
        assert params.integer(value, "n") == 3 and type(params.integer(value, "n")) is int
    else:
        with pytest.raises(error, match="n must be an integer"):
            params.integer(value, "n")
    assert params.flag(np.bool_(True), "f") is True
    with pytest.raises(TypeError, match="f must be True or False"):
        params.flag("no", "f")


@pytest.mark.parametrize("make", [
    lambda: wavedil.TCN(1, 3, kernel_size=5000, dilations=[1, 2], seed=0),
    lambda: wavedil.WaveNet(1, 4, 4, 4, kernel_size=5000, dilations=[1, 2], seed=0),
    lambda: wavedil.Stack([{"channels": 2, "kernel_size": 5000, "dilation": 2}],
                          in_channels=1, seed=0)])
def test_a_models_run_buffers_are_budgeted_before_they_are_allocated(make):
    """A huge kernel_size: weights within the budget, but the im2col blocks of a chunk
    (chunk x kernel_size x channels; a TCN of kernel_size=354833 on 64 samples asked for
    545 MB) are refused with the numbers and the chunk size that fits, which runs."""
    x = np.random.default_rng(2).standard_normal((1, 300))
    model = make()
    expected = model(x)  # the default budget (4 GiB) lets it run
    previous = params.set_memory_budget(2 << 20)
    try:
        stream = model.stream()
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match=r"on chunks of 300 samples x batch 1 in "
                               r"float64.*kernel_size=5000.*MiB.*memory budget of 2 MiB.*"
                               r"chunks of at most (\d+) samples") as refused:
                model(x)
            with pytest.raises(ValueError, match="memory budget"):
                stream.process(x)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1 << 20  # refused before the buffers were made
        assert stream.layout is None and stream.state is None  # the stream did not start
        fits = int(re.search(r"chunks of at most (\d+) samples", str(refused.value))[1])
        assert 1 <= fits < 300
        parts = [stream.process(x[:, i : i + fits]) for i in range(0, 300, fits)]
        np.testing.assert_allclose(np.concatenate(parts + [stream.flush()], -1), expected,
                                   rtol=1e-12, atol=1e-12)
    finally:
        params.set_memory_budget(previous)


def test_a_torch_convs_output_is_budgeted_with_its_input():
    """A conv's weights are checked when it is built, its output (B, C_out, T) when it is
    called: nn.CausalConv1d(out_channels=2853396) on 32 samples asked for 365 MB."""
    import torch

    import wavedil.nn as wnn

    conv = wnn.CausalConv1d(1, 100, 3)
    previous = params.set_memory_budget(1 << 20)
    try:
        with pytest.raises(ValueError, match=r"out_channels=100 on x of shape \(1, 1, 5000\).*"
                                             r"\(1, 100, 5000\).*1.91 MiB.*1 MiB"):
            conv(torch.zeros(1, 1, 5000))
        assert conv(torch.zeros(1, 1, 500)).shape == (1, 100, 500)  # 195 KiB
    finally:
        params.set_memory_budget(previous)


def test_an_inverse_streams_delay_lines_count_against_its_levels():
    """InverseAtrousStream keeps a delay line per level: haar with 20 levels held 352 MB
    (21 rows of 2^20 samples, and room for as many)."""
    with pytest.raises(ValueError, match=r"20 levels of 'haar'.*\(J\+2\).*use levels <= 19"):
        wavedil.InverseAtrousStream("haar", 20)
    assert wavedil.InverseAtrousStream("haar", 19).levels == 19
