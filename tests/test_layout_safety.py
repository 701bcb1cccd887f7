"""Layout safety: ``axis=``, the guard against ``(T, C)`` arrays, bounded memory, deep levels.

Oracles: per-column 1-D calls, ``pywt.swt``/``pywt.mra``/``pywt.iswt`` on ``np.pad``-ed
signals, the transform's definition written out with ``np.pad``, and Python-int index
arithmetic for levels whose dilation exceeds any pad. Memory is measured with
``tracemalloc`` (numpy reports its allocations to it) and, on Linux, under ``RLIMIT_AS``.
"""

import functools
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
import pywt
from helpers import assert_close, signal
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
from wavedil.engine import memory
from wavedil.wavelets.banks import filter_bank
from wavedil.wavelets.boundaries import fold, stand_in, window
from wavedil.wavelets.guards import (
    ALLOCATION_MULTIPLE,
    ALLOCATION_SLACK,
    MAX_LEVELS,
    MAX_STREAM_HISTORY,
)
from wavedil.wavelets.transform import atrous, iatrous, mra, reach

BOUNDARIES = ["periodic", "symmetric", "reflect", "zero", "edge"]
NP_MODES = {"periodic": "wrap", "symmetric": "symmetric", "reflect": "reflect",
            "zero": "constant", "edge": "edge"}
ALIGNMENTS = ["causal", "centered", "pywt"]
STEREO = np.random.default_rng(0).standard_normal((2000, 2))  # soundfile.read's (T, C)


def close(actual, expected, tol=1e-12):
    """Within ``tol`` relative to ``max |expected|`` (at least 1)."""
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tol * scale)


def peak_bytes(call):
    """The peak of what ``call()`` allocates (numpy's arrays included), from an empty pool
    of recycled arrays (``wavedil.engine.memory``: a reused array would not count)."""
    memory.clear()
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- the (T, C) mistake -------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: wavedil.denoise(STEREO),
    lambda: wavedil.atrous(STEREO, "sym8"),
    lambda: wavedil.atrous(STEREO, "haar"),  # levels=None used to return 1 level of 2 samples
    lambda: wavedil.atrous(STEREO, "db4", 3),
    lambda: wavedil.mra(STEREO, "db4", 5),
    lambda: wavedil.mra(STEREO, "starlet"),
    lambda: wavedil.denoise(STEREO[:, :1], "haar", 4),  # soundfile's always_2d mono
    lambda: wavedil.AtrousTransform("db4", 3)(STEREO),
    lambda: wavedil.AtrousTransform("db4", 3, channels=2)(STEREO),
])
def test_a_frames_by_channels_array_is_refused_at_once(call):
    with pytest.raises(ValueError, match=r"shape \(2000, [12]\).*x\.T or axis=0") as error:
        call()
    assert "soundfile" in str(error.value)
    assert peak_bytes(lambda: pytest.raises(ValueError, call)) < 64 << 10  # nothing allocated


@pytest.mark.parametrize("channels", [1, 2])
def test_the_denoiser_operator_names_the_layout_it_takes(channels):
    with pytest.raises(ValueError, match=rf"channels={channels}\) takes \(C, T\).*"
                                         r"shape \(2000, 2\).*x\.T or axis=0"):
        wavedil.Denoiser("db4", 3, channels=channels)(STEREO)


def test_the_error_quotes_the_samples_the_levels_span():
    with pytest.raises(ValueError, match=r"2000 signals of 2 samples, shorter than the 15346 "
                                         r"samples that 10 levels of 'sym8' span"):
        wavedil.denoise(STEREO, "sym8", 10)
    with pytest.raises(ValueError, match="46 samples that 2 levels"):
        wavedil.atrous(STEREO, "sym8")  # levels=None: a multiresolution needs two


@pytest.mark.parametrize("shape, axis, levels", [
    ((5,), -1, 10),  # a short 1-D signal: any number of levels
    ((2, 1), -1, 4),  # rows more than a quarter as long as there are rows
    ((300, 100), -1, 10),  # a batch of short signals (100 * 4 > 300)
    ((3, 0), -1, 3),  # empty signals
    ((2000, 2), 1, 3),  # the last axis named explicitly: taken as given, however short
    ((2000, 1, 2), -1, 3),  # 3-D: (B, C, T) as given
    ((2, 2000), -1, 3),  # (C, T)
])
def test_legitimate_layouts_pass(shape, axis, levels):
    x = signal(1, shape)
    for call in (lambda: atrous(x, "db4", levels, axis=axis).approx,
                 lambda: mra(x, "db4", levels, boundary="symmetric", axis=axis)[-1],
                 lambda: wavedil.denoise(x, "db4", levels, axis=axis)):
        assert call().shape == shape


def test_explicit_axis_equals_the_rows_one_by_one():
    r = atrous(STEREO, "db4", 3, alignment="pywt", axis=1)
    for row in range(0, 2000, 397):
        column = atrous(STEREO[row], "db4", 3, alignment="pywt")
        assert_close(r.details[:, row], column.details)


# -- axis=0 on (T, C) is the transposed call -------------------------------------------------

@settings(max_examples=20)
@given(length=st.integers(1, 70), channels=st.integers(1, 4), levels=st.integers(1, 4),
       name=st.sampled_from(["haar", "db4", "sym8", "starlet"]),
       boundary=st.sampled_from(BOUNDARIES), alignment=st.sampled_from(ALIGNMENTS),
       seed=st.integers(0, 2**31 - 1))
def test_axis_0_is_the_per_column_call(length, channels, levels, name, boundary, alignment,
                                       seed):
    x = signal(seed, (length, channels))
    r = atrous(x, name, levels, alignment, boundary, axis=0)
    parts = mra(x, name, levels, alignment, boundary, axis=0)
    assert r.details.shape == (levels, length, channels) and parts.shape == r.stack().shape
    options = dict(threshold=1.5, sigma=0.7, alignment=alignment, boundary=boundary)
    denoises = not (filter_bank(name).difference and alignment == "causal")  # not band-pass
    y = wavedil.denoise(x, name, levels, axis=0, **options) if denoises else x
    for k in range(channels):
        column = atrous(x[:, k], name, levels, alignment, boundary)
        assert_close(r.details[:, :, k], column.details)
        assert_close(r.approx[:, k], column.approx)
        assert_close(parts[:, :, k], mra(x[:, k], name, levels, alignment, boundary))
        if denoises:
            assert_close(y[:, k], wavedil.denoise(x[:, k], name, levels, **options))
    if filter_bank(name).difference or boundary == "periodic":
        assert_close(iatrous(r), x)


@settings(max_examples=20)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=3), data=st.data(),
       seed=st.integers(0, 2**31 - 1))
def test_any_axis_of_any_shape_is_the_moved_call(shape, data, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    if len(shape) == 2 and axis == -1:  # the default, which the (T, C) guard may refuse;
        axis = 1  # axis=1 says the rows are the signals
    x = signal(seed, tuple(shape))
    moved = np.moveaxis(x, axis, -1)
    r = atrous(x, "db2", 2, boundary="reflect", axis=axis)
    expected = atrous(moved.reshape(-1, moved.shape[-1]), "db2", 2, boundary="reflect",
                      axis=1)
    assert_close(np.moveaxis(r.details, axis if axis < 0 else axis + 1, -1),
                 expected.details.reshape((2,) + moved.shape))
    assert_close(iatrous(atrous(x, "db2", 2, axis=axis)), x)


@pytest.mark.parametrize("levels", [1, 3])
def test_axis_0_matches_pywt_swt(levels):
    x = signal(2, (64, 3))
    r = atrous(x, "sym4", levels, alignment="pywt", axis=0)
    for k in range(3):
        theirs = pywt.swt(x[:, k], "sym4", levels, trim_approx=True)  # [cA_J, cD_J, .., cD_1]
        close(r.approx[:, k], theirs[0], 1e-10)  # pywt's sym tables: 1e-12 apart
        close(r.details[::-1, :, k], np.array(theirs[1:]), 1e-10)


def test_operators_take_axis_for_the_offline_call():
    op = wavedil.AtrousTransform("db4", 3, "centered", "edge", channels=2, axis=0)
    assert "axis=0" in repr(op)
    np.testing.assert_array_equal(op(STEREO),
                                  np.moveaxis(wavedil.AtrousTransform(
                                      "db4", 3, "centered", "edge", channels=2)(STEREO.T),
                                      -1, 1))
    denoiser = wavedil.Denoiser("db4", 3, channels=2, axis=0)
    assert "axis=0" in repr(denoiser)
    np.testing.assert_array_equal(denoiser(STEREO),
                                  wavedil.Denoiser("db4", 3, channels=2)(STEREO.T).T)
    stream = denoiser.stream()  # a stream takes time-last chunks whatever the axis
    chunks = [stream.process(STEREO[i : i + 300].T) for i in range(0, 2000, 300)]
    assert_close(np.concatenate(chunks + [stream.flush()], -1).T, denoiser(STEREO))


# -- the periodic stand-in equals the old margin computation ------------------------------------

def pywt_mra(x, wavelet, levels, boundary):
    """``pywt.mra`` (SWT) of ``x`` padded by ``np.pad`` far beyond the reach, cropped."""
    margin = reach(wavelet, levels)
    extra = -(len(x) + 2 * margin) % 2**levels  # pywt's swt needs a multiple of 2^J
    padded = np.pad(x, (margin, margin + extra), NP_MODES[boundary])
    parts = pywt.mra(padded, wavelet, levels, transform="swt")  # [A_J, D_J, ..., D_1]
    return np.array(parts[1:][::-1] + [parts[0]])[:, margin : margin + len(x)]


def pywt_denoise(x, wavelet, levels, boundary, threshold):
    """Soft thresholds ``threshold`` on every detail of ``pywt.swt`` of the padded signal
    (an orthogonal bank: unit noise gain at every level), ``pywt.iswt``, cropped."""
    margin = reach(wavelet, levels)
    extra = -(len(x) + 2 * margin) % 2**levels
    padded = np.pad(x, (margin, margin + extra), NP_MODES[boundary])
    coeffs = pywt.swt(padded, wavelet, levels, trim_approx=True)
    coeffs = [coeffs[0]] + [np.sign(d) * np.maximum(np.abs(d) - threshold, 0)  # soft
                            for d in coeffs[1:]]
    return pywt.iswt(coeffs, wavelet)[margin : margin + len(x)]


@settings(max_examples=25)
@given(name=st.sampled_from(["haar", "db2", "db4", "sym8"]), levels=st.integers(1, 6),
       length=st.integers(1, 90), boundary=st.sampled_from(BOUNDARIES),
       seed=st.integers(0, 2**31 - 1))
def test_stand_in_mra_equals_the_padded_pywt_mra(name, levels, length, boundary, seed):
    x = signal(seed, length)
    ours = mra(x, name, levels, alignment="pywt", boundary=boundary)
    close(ours, pywt_mra(x, name, levels, boundary), 1e-10)


@settings(max_examples=25)
@given(name=st.sampled_from(["haar", "db4", "sym8"]), levels=st.integers(1, 6),
       length=st.integers(1, 90), boundary=st.sampled_from(BOUNDARIES),
       k=st.floats(0.0, 3.0), seed=st.integers(0, 2**31 - 1))
def test_stand_in_denoise_equals_the_padded_pywt_chain(name, levels, length, boundary, k,
                                                       seed):
    x = signal(seed, length)
    ours = wavedil.denoise(x, name, levels, threshold=k, sigma=0.8, alignment="pywt",
                           boundary=boundary)
    close(ours, pywt_denoise(x, name, levels, boundary, k * 0.8), 1e-10)


@given(length=st.integers(0, 40), reach_=st.integers(0, 200),
       boundary=st.sampled_from(BOUNDARIES), seed=st.integers(0, 2**31 - 1))
def test_the_stand_in_is_one_period_or_the_padded_signal(length, reach_, boundary, seed):
    x = signal(seed, (2, length))
    xp, start = stand_in(x, boundary, reach_)
    assert xp.shape[-1] <= max(2 * length, length + 2 * reach_)  # never both
    if boundary in ("symmetric", "reflect"):
        assert xp.shape[-1] <= 2 * length
    if length:  # read periodically around x, the stand-in is np.pad's extension
        around = np.take(xp, np.arange(start - reach_, start + length + reach_), axis=-1,
                         mode="wrap")
        np.testing.assert_array_equal(around, np.pad(x, ((0, 0), (reach_, reach_)),
                                                     NP_MODES[boundary]))


@given(length=st.integers(1, 30), start=st.integers(-100, 100), size=st.integers(0, 90),
       boundary=st.sampled_from(BOUNDARIES), seed=st.integers(0, 2**31 - 1))
def test_window_is_numpy_pad(length, start, size, boundary, seed):
    x = signal(seed, (3, length))
    left, right = max(-start, 0) + 1, max(start + size - length, 0) + 1
    padded = np.pad(x, ((0, 0), (left, right)), NP_MODES[boundary])
    expected = padded[:, left + start : left + start + size]
    np.testing.assert_array_equal(window(x, start, start + size, boundary), expected)
    offsets = [start, start + 3 * size, -7 * size]
    for offset, folded in zip(offsets, fold(offsets, length, boundary)):
        assert -length <= folded < 2 * length
        np.testing.assert_array_equal(window(x, folded, folded + length, boundary),
                                      window(x, offset, offset + length, boundary))


# -- deep levels: the definition, any number of levels -------------------------------------------

def direct_atrous(x, name, levels, alignment, boundary):
    """The definition with ``np.pad``: ``c_j[n] = sum_t h[t] c_{j-1}[n + r_j - d t]``."""
    bank = filter_bank(name)
    k, c, n, details = bank.length, np.asarray(x, np.float64), np.arange(len(x)), []
    for j in range(1, levels + 1):
        d = 2 ** (j - 1)
        span = (k - 1) * d
        right = {"causal": 0, "centered": span // 2, "pywt": (k // 2) * d}[alignment]
        p = np.pad(c, (span - right, right), NP_MODES[boundary])
        taps = [p[n + span - d * t] for t in range(k)]
        c_next = sum(bank.dec_lo[t] * taps[t] for t in range(k))
        details.append(c - c_next if bank.difference else
                       sum(bank.dec_hi[t] * taps[t] for t in range(k)))
        c = c_next
    return np.array(details), c


@settings(max_examples=30)
@given(name=st.sampled_from(["haar", "db4", "sym8", "starlet"]), levels=st.integers(3, 9),
       length=st.integers(1, 24), alignment=st.sampled_from(ALIGNMENTS),
       boundary=st.sampled_from(BOUNDARIES), seed=st.integers(0, 2**31 - 1))
def test_levels_spanning_far_more_than_the_signal_follow_the_definition(
        name, levels, length, alignment, boundary, seed):
    x = signal(seed, length)
    r = atrous(x, name, levels, alignment, boundary)
    details, approx = direct_atrous(x, name, levels, alignment, boundary)
    assert_close(r.details, details)
    assert_close(r.approx, approx)
    if boundary == "periodic" or filter_bank(name).difference:
        assert_close(iatrous(r), x)


def mirrored(p, length, boundary):
    """Python-int index of position ``p`` in the periodic or symmetric extension."""
    if boundary == "periodic":
        return p % length
    q = p % (2 * length)
    return q if q < length else 2 * length - 1 - q


@pytest.mark.parametrize("boundary", ["periodic", "symmetric"])
def test_the_deepest_levels_allowed_follow_the_definition(boundary):
    x, bank = signal(3, 11), filter_bank("db3")
    r = atrous(x, bank, MAX_LEVELS, "centered", boundary)
    c = list(x)
    for j in range(1, MAX_LEVELS + 1):
        d = 2 ** (j - 1)
        span = (bank.length - 1) * d
        c_next = [sum(bank.dec_lo[t] * c[mirrored(n + span // 2 - d * t, 11, boundary)]
                      for t in range(bank.length)) for n in range(11)]
        w = [sum(bank.dec_hi[t] * c[mirrored(n + span // 2 - d * t, 11, boundary)]
                 for t in range(bank.length)) for n in range(11)]
        scale = max(1.0, max(abs(v) for v in c))  # c grows as sqrt(2)^j: round-off too
        close(r.details[j - 1] / scale, np.array(w) / scale)
        c = c_next
    close(r.approx, np.array(c))
    if boundary == "periodic":
        assert_close(iatrous(r), x)
    assert_close(mra(x, bank, MAX_LEVELS, boundary=boundary).sum(0), x)


def test_too_many_levels_are_refused_clearly():
    with pytest.raises(ValueError, match=rf"levels must be at most {MAX_LEVELS}.*got 41"):
        atrous(np.ones(100), "db4", 41)
    with pytest.raises(ValueError, match=r"7516192761 samples per channel \(56 GiB.*levels <= 21"):
        wavedil.AtrousStream("db4", 30)
    for make in (wavedil.DenoiseStream, wavedil.Denoiser, wavedil.InverseAtrousStream,
                 wavedil.ResynthesisStream, wavedil.Resynthesis):
        with pytest.raises(ValueError, match="samples per channel"):
            make("db4", 30)
    assert wavedil.AtrousStream("db4", 21).latency == 0  # the deepest a stream keeps
    assert (filter_bank("db4").length - 1) * (2**21 - 1) <= MAX_STREAM_HISTORY
    assert "levels=30" in repr(wavedil.AtrousTransform("db4", 30))  # offline: any level
    with pytest.raises(ValueError, match="noise gains of level 20.*levels <= 14"):
        wavedil.denoise(np.ones(1000), "sym8", 20)


def test_a_zero_extension_beyond_the_bound_is_refused_with_its_size():
    x = np.ones((64, 1, 50))
    with pytest.raises(ValueError, match=r"boundary='edge' reads 15345 samples.* 269\.4 MiB.*"
                                         r"'symmetric'.*levels <= 5"):
        wavedil.denoise(x, "sym8", 10, boundary="edge")
    assert wavedil.denoise(x, "sym8", 5, boundary="edge").shape == x.shape
    assert wavedil.denoise(x, "sym8", 10, boundary="symmetric").shape == x.shape


# -- memory --------------------------------------------------------------------------------------

def bound(levels, x):
    return ALLOCATION_MULTIPLE * (levels + 1) * x.nbytes + ALLOCATION_SLACK


def peak_or_refusal(call):
    """``peak_bytes(call)``; a call refused for its memory must refuse before allocating."""
    try:
        call()  # compiled and cached first
    except ValueError as error:
        assert "MiB" in str(error)
        return peak_bytes(lambda: pytest.raises(ValueError, call))
    return peak_bytes(call)


CASES = [((2000, 2), 10), ((2000, 2), 1), ((16, 8192), 2), ((300, 512), 6),
         ((1 << 17, 1), 3), ((1 << 16, 1), None)]


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("shape, levels", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_no_call_allocates_more_than_the_bound(shape, levels, boundary, dtype):
    x = signal(4, shape, dtype)
    for name in ("sym8", "starlet"):
        for function in (atrous, mra, wavedil.denoise):
            call = functools.partial(function, x, name, levels, boundary=boundary, axis=0)
            used = levels or wavedil.max_level(shape[0], name)
            assert peak_or_refusal(call) <= bound(used, x), name
    r = atrous(x, "sym8", levels, boundary="periodic", axis=0)
    assert peak_bytes(lambda: iatrous(r)) <= bound(r.levels, x)


def test_the_stereo_case_of_the_issue_stays_small():
    """``denoise(np.random.randn(2000, 2))`` asked for 4.6 GB; with ``axis=0`` it allocated
    27 MB (850 times the input) for the extension by ``reach``; now one period of the
    symmetric extension."""
    wavedil.denoise(STEREO, axis=0)
    assert peak_bytes(lambda: wavedil.denoise(STEREO, axis=0)) <= \
        ALLOCATION_MULTIPLE * 11 * STEREO.nbytes


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc")
def test_under_an_address_space_limit():
    """In a child process limited to what it maps after warming up plus 256 MiB: the
    (T, C) mistake is refused, the right calls and deep levels on tiny signals run."""
    script = textwrap.dedent("""
        import resource
        import numpy as np
        import wavedil
        x = np.random.default_rng(0).standard_normal((2000, 2))
        for boundary in ("symmetric", "zero", "edge", "periodic"):
            wavedil.denoise(x[:64], levels=4, axis=0, boundary=boundary)
            wavedil.mra(x[:64], "db4", 3, boundary=boundary, axis=0)
        wavedil.atrous(np.ones(9), "db4", 12)
        size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size + (256 << 20), resource.RLIM_INFINITY))
        try:
            wavedil.denoise(x)
        except ValueError as error:
            assert "x.T or axis=0" in str(error)
        else:
            raise AssertionError("the (T, C) layout was not refused")
        for boundary in ("symmetric", "zero", "edge", "periodic"):
            assert wavedil.denoise(x, axis=0, boundary=boundary).shape == x.shape
        assert wavedil.atrous(np.ones(100), "db4", 40).levels == 40
        assert wavedil.mra(np.ones(100), "db4", 40, boundary="symmetric").shape == (41, 100)
        assert wavedil.denoise(np.ones((300, 1, 100)), "sym8", 10).shape == (300, 1, 100)
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, OPENBLAS_NUM_THREADS="1",
                                   PYTHONPATH=os.pathsep.join(sys.path)), timeout=600)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
