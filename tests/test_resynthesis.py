"""Live resynthesis (``Resynthesis``, ``ResynthesisStream``) and the streaming inverse of every
bank (``InverseAtrousStream``), against independent oracles: the defining equations written
out in numpy (``causal_analysis``, ``synthesis``) and ``pywt.swt`` / ``pywt.iswt``
(periodic, with enough zeros after the signal that nothing wraps around into it)."""

import math
import runpy
from pathlib import Path

import numpy as np
import pytest
import pywt
from helpers import assert_close, chunk_sizes, signal
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
from wavedil.engine.stream import feed_stream

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ["haar", "db2", "db4", "sym8", "coif2", "starlet", "linear", "bior2.2"]
SWT = ["haar", "db2", "db4", "sym8", "coif2", "bior2.2"]
SIZES = chunk_sizes(300, most=6)
LAYOUTS = {"1d": (1, ()), "2d": (2, (2,)), "3d": (2, (3, 2))}  # channels, lead shape


def wavelet(name):
    """A built-in name, or pywt's object for the biorthogonal bank (a user pair)."""
    return pywt.Wavelet(name) if "." in name else name


def bank_of(name):
    return wavedil.filter_bank(wavelet(name))


def feed(stream, x, sizes):
    return feed_stream(stream, x, sizes if any(sizes) else sizes + [1])


# -- the oracles: the equations of DESIGN.md, one tap at a time -------------------------------
def extend(c, left, right, boundary):
    """``c`` (time last) with ``left`` / ``right`` samples of the boundary around it."""
    lead = c.shape[:-1]
    if boundary == "zero" or c.shape[-1] == 0:
        before, after = np.zeros(lead + (left,)), np.zeros(lead + (right,))
    else:  # edge
        before = np.repeat(c[..., :1], left, -1)
        after = np.repeat(c[..., -1:], right, -1)
    return np.concatenate([before, c, after], axis=-1)


def shifted_sum(c, taps, dilation, ahead, boundary="zero"):
    """``y[n] = sum_t taps[t] c[n + ahead - dilation t]`` with ``c`` extended by ``boundary``."""
    span = (len(taps) - 1) * dilation
    left = span - ahead
    ext = extend(c, left, ahead, boundary)
    length = c.shape[-1]
    y = np.zeros(c.shape)
    for t, tap in enumerate(taps):
        start = left + ahead - dilation * t
        y += tap * ext[..., start : start + length]
    return y


def causal_analysis(x, bank, levels, boundary="zero", norm=False, alignment="causal"):
    """``(levels + 1, *x.shape)``: c_j[n] = sum_t h[t] c_{j-1}[n + r_j - d t], w_j likewise
    with g, or ``c_{j-1} - c_j`` for a difference bank; r_j is 0 (causal) or half the span."""
    scale = 1 / math.sqrt(2) if norm else 1.0
    c, out = np.asarray(x, np.float64), []
    for j in range(1, levels + 1):
        d = 2 ** (j - 1)
        ahead = 0 if alignment == "causal" else (bank.length - 1) * d // 2
        c_next = scale * shifted_sum(c, bank.dec_lo, d, ahead, boundary)
        if bank.difference:
            out.append(scale * c - c_next)
        else:
            out.append(scale * shifted_sum(c, bank.dec_hi, d, ahead, boundary))
        c = c_next
    return np.stack(out + [c])


def synthesis(coefficients, bank, norm=False):
    """The inverse of ``causal_analysis`` with zero coefficients after the end:
    c_{j-1}[n] = (sum_s rec_lo[s] c_j[n + S_j - d s] + rec_hi[s] w_j[...]) / gain, with gain
    the centre of rec_lo * dec_lo + rec_hi * dec_hi (the perfect-reconstruction condition)."""
    levels = coefficients.shape[0] - 1
    c = coefficients[levels]
    scale = 1 / math.sqrt(2) if norm else 1.0
    if bank.difference:
        for j in range(levels, 0, -1):
            c = (c + coefficients[j - 1]) / scale
        return c
    product = np.convolve(bank.rec_lo, bank.dec_lo) + np.convolve(bank.rec_hi, bank.dec_hi)
    gain = product[bank.length - 1] * scale**2
    for j in range(levels, 0, -1):
        d = 2 ** (j - 1)
        span = (bank.length - 1) * d
        c = scale * (shifted_sum(c, bank.rec_lo, d, span)
                     + shifted_sum(coefficients[j - 1], bank.rec_hi, d, span)) / gain
    return c


def offline_chain(x, bank, levels, fn=None, boundary="zero", norm=False, alignment="causal"):
    """The chain on ``x`` followed by ``latency`` boundary samples, cropped to ``x``'s length."""
    latency = 0 if bank.difference else (bank.length - 1) * (2**levels - 1)
    x = np.asarray(x, np.float64)
    tail = np.repeat(x[..., -1:], latency, -1) if boundary == "edge" else \
        np.zeros(x.shape[:-1] + (latency,))
    c = causal_analysis(np.concatenate([x, tail], -1), bank, levels, boundary, norm, alignment)
    if fn is not None:
        c = fn(c)
    return synthesis(c, bank, norm)[..., : x.shape[-1]]


# band functions: memoryless across time (any mixing of bands), and one with memory
def soft_and_gains(c):
    gains = np.linspace(1.5, 0.25, c.shape[0]).reshape((-1,) + (1,) * (c.ndim - 1))
    return np.sign(c) * np.maximum(np.abs(c) - 0.4, 0) * gains


def across_bands(c):
    """Each band's gain falls with the energy of all bands at that sample."""
    return c / (1 + np.sum(c**2, axis=0))


class Compressor:
    """A stateful band function: an RMS envelope per band and channel (one pole, carried
    across chunks), and a gain that pulls each band down above a threshold."""

    def __init__(self, pole=0.9, threshold=0.5, ratio=4.0):
        self.pole, self.threshold, self.ratio = pole, threshold, ratio
        self.zi = None  # the envelope filter's state, (*c.shape[:-1], 1)

    def process(self, c):
        from scipy.signal import lfilter

        zi = np.zeros(c.shape[:-1] + (1,)) if self.zi is None else self.zi
        envelope, self.zi = lfilter([1 - self.pole], [1, -self.pole], c**2, axis=-1, zi=zi)
        level = np.maximum(envelope, self.threshold**2) / self.threshold**2
        return c * level ** ((1 / self.ratio - 1) / 2)

    def reset(self):
        self.zi = None

    def state_dict(self):
        return {} if self.zi is None else {"zi": self.zi.copy()}

    def load_state_dict(self, state):
        self.zi = np.array(state["zi"]) if "zi" in state else None


# -- identity: the input back, every bank -------------------------------------------------------
@settings(max_examples=30)
@given(name=st.sampled_from(FAMILIES), levels=st.integers(1, 4),
       boundary=st.sampled_from(["zero", "edge"]), layout=st.sampled_from(sorted(LAYOUTS)),
       length=st.integers(0, 400), sizes=SIZES, seed=st.integers(0, 2**31 - 1))
def test_identity_returns_the_input_for_every_bank(name, levels, boundary, layout, length,
                                                   sizes, seed):
    channels, lead = LAYOUTS[layout]
    x = signal(seed, lead + (length,))
    stream = wavedil.ResynthesisStream(wavelet(name), levels, boundary=boundary,
                                       channels=channels)
    y = feed(stream, x, sizes)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert_close(y, x)


@pytest.mark.parametrize("name", FAMILIES)
def test_identity_in_float32(name):
    x = signal(3, (2, 700), np.float32)
    y = feed(wavedil.ResynthesisStream(wavelet(name), 4, channels=2), x, [64, 1, 129])
    assert y.dtype == np.float32
    assert_close(y, x, np.float32)


# -- any memoryless function: the offline chain on the zero-extended signal -------------------
@pytest.mark.filterwarnings("ignore:norm=True, but the wavelet is not orthogonal")
@settings(max_examples=25)
@given(name=st.sampled_from(SWT), levels=st.integers(1, 4), norm=st.booleans(),
       length=st.integers(0, 300), sizes=SIZES, seed=st.integers(0, 2**31 - 1))
def test_a_memoryless_band_function_equals_pywt_swt_then_iswt(name, levels, norm, length,
                                                               sizes, seed):
    """Per-band soft thresholds and gains, live, against pywt's periodic SWT of the signal
    followed by enough zeros (latency for the chain, latency more so that the periodic
    analysis wraps only zeros into the start), thresholded the same, inverted, cropped."""
    bank = pywt.Wavelet(name)
    x = signal(seed, (length,))
    stream = wavedil.ResynthesisStream(bank, levels, soft_and_gains, norm=norm)
    y = feed(stream, x, sizes)
    size = -(-(length + 2 * stream.latency) // 2**levels) * 2**levels
    padded = np.concatenate([x, np.zeros(size - length)])
    pywt_order = pywt.swt(padded, bank, levels, trim_approx=True, norm=norm)  # cA_J, cD_J..
    ours = soft_and_gains(np.stack(pywt_order[:0:-1] + pywt_order[:1]))  # w_1..w_J, c_J
    expected = pywt.iswt([ours[-1]] + list(ours[-2::-1]), bank, norm=norm)[:length]
    assert_close(y, expected)


@settings(max_examples=25)
@given(name=st.sampled_from(FAMILIES), levels=st.integers(1, 4), norm=st.booleans(),
       boundary=st.sampled_from(["zero", "edge"]), layout=st.sampled_from(sorted(LAYOUTS)),
       length=st.integers(0, 300), sizes=SIZES, seed=st.integers(0, 2**31 - 1))
def test_a_function_across_bands_equals_the_direct_chain(name, levels, norm, boundary, layout,
                                                         length, sizes, seed):
    channels, lead = LAYOUTS[layout]
    x = signal(seed, lead + (length,))
    stream = wavedil.ResynthesisStream(wavelet(name), levels, across_bands, boundary=boundary,
                                       norm=norm, channels=channels)
    expected = offline_chain(x, bank_of(name), levels, across_bands, boundary, norm)
    assert_close(feed(stream, x, sizes), expected)


@pytest.mark.parametrize("name", ["starlet", "linear"])
def test_a_difference_bank_with_a_centered_analysis(name):
    x = signal(5, (2, 333))
    op = wavedil.Resynthesis(name, 3, soft_and_gains, alignment="centered", boundary="edge",
                             channels=2)
    right = sum(((bank_of(name).length - 1) * 2 ** (j - 1)) // 2 for j in (1, 2, 3))
    assert op.latency == right
    expected = synthesis(soft_and_gains(causal_analysis(x, bank_of(name), 3, "edge",
                                                        alignment="centered")), bank_of(name))
    assert_close(feed(op.stream(), x, [17, 0, 1, 64]), expected)
    assert_close(op(x), expected)


# -- a function with memory ---------------------------------------------------------------------
@settings(max_examples=20)
@given(name=st.sampled_from(["haar", "db4", "starlet", "bior2.2"]), levels=st.integers(1, 4),
       length=st.integers(0, 300), sizes=SIZES, seed=st.integers(0, 2**31 - 1))
def test_a_stateful_band_function_is_chunk_invariant(name, levels, length, sizes, seed):
    """A compressor called chunk by chunk equals the compressor called once on the offline
    chain's coefficients (its state carried across chunks, and through a saved state)."""
    x = signal(seed, (2, length))
    op = wavedil.Resynthesis(wavelet(name), levels, Compressor(), channels=2)
    expected = offline_chain(x, bank_of(name), levels, Compressor().process)
    assert_close(feed(op.stream(), x, sizes), expected)
    first = op.stream()
    head = first.process(x[:, : length // 2])
    second = op.stream()
    second.load_state_dict(first.state_dict())
    rest = feed(second, x[:, length // 2 :], sizes)
    assert_close(np.concatenate([head, rest], -1), expected)


def test_a_causal_conv_stream_mixing_bands_is_a_band_function():
    """A package stream works as ``fn`` too (its state saved under ``fn.``): a causal
    DilatedConv1d over the 4 bands of 1-D chunks, against the layer offline."""
    layer = wavedil.DilatedConv1d(signal(11, (4, 4, 3)), dilation=2)
    x = signal(12, (400,))
    op = wavedil.Resynthesis("db2", 3, layer.stream())
    expected = offline_chain(x, bank_of("db2"), 3, layer)
    assert_close(feed(op.stream(), x, [33, 0, 1, 100]), expected)
    first = op.stream()
    head = first.process(x[:150])
    assert any(key.startswith("fn.") for key in first.state_dict())
    second = op.stream()
    second.load_state_dict(first.state_dict())
    assert_close(np.concatenate([head, feed(second, x[150:], [64])]), expected)


def test_each_stream_gets_its_own_copy_of_a_stateful_function():
    x = signal(8, (500,))
    op = wavedil.Resynthesis("db2", 3, Compressor())
    alone = op(x)
    a, b = op.stream(), op.stream()
    parts_a, parts_b = [], []
    for start in range(0, 500, 50):  # interleaved: a shared compressor would mix them
        parts_a.append(a.process(x[start : start + 50]))
        parts_b.append(b.process(-x[start : start + 50]))
    np.testing.assert_array_equal(np.concatenate(parts_a + [a.flush()]), alone)
    assert_close(np.concatenate(parts_b + [b.flush()]), -alone)


def test_float32_streams_get_float32_from_a_float64_function():
    x = signal(9, (300,), np.float32)
    y = wavedil.Resynthesis("db2", 2, lambda c: c * np.float64(0.5))(x)
    assert y.dtype == np.float32
    assert_close(y, 0.5 * x, np.float32)  # a linear gain on every band scales the signal


# -- latency ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FAMILIES + ["db20", "sym4", "coif5"])
@pytest.mark.parametrize("levels", [1, 2, 5, 8])
def test_the_latency_is_the_synthesis_lookahead(name, levels):
    taps = bank_of(name).length
    expected = 0 if name in ("starlet", "linear") else (taps - 1) * (2**levels - 1)
    assert wavedil.InverseAtrousStream(wavelet(name), levels).latency == expected
    assert wavedil.ResynthesisStream(wavelet(name), levels).latency == expected
    assert wavedil.Resynthesis(wavelet(name), levels).latency == expected


@pytest.mark.parametrize("name", ["haar", "db4", "sym8"])
def test_the_latency_is_needed(name):
    """One sample less of lookahead would not do: the output at n moves with the
    coefficient at n + latency."""
    levels = 3
    inverse = wavedil.InverseAtrousStream(name, levels)
    latency = inverse.latency
    c = np.zeros((levels + 1, 2 * latency + 1))
    c[levels, -1] = 1.0  # c_J at the last index
    y = feed(inverse, c, [c.shape[-1]])
    assert y[-1 - latency] != 0 and not np.any(y[: -1 - latency])


# -- the inverse stream of an SWT bank ---------------------------------------------------------
@settings(max_examples=25)
@given(name=st.sampled_from(SWT), levels=st.integers(1, 4), norm=st.booleans(),
       layout=st.sampled_from(sorted(LAYOUTS)), length=st.integers(0, 300), sizes=SIZES,
       seed=st.integers(0, 2**31 - 1))
def test_forward_then_inverse_stream_returns_the_input(name, levels, norm, layout, length,
                                                       sizes, seed):
    """The causal forward stream fed x then ``latency`` zeros, its coefficients fed to the
    inverse stream, flushed: the first T samples out are x."""
    channels, lead = LAYOUTS[layout]
    x = signal(seed, lead + (length,))
    inverse = wavedil.InverseAtrousStream(wavelet(name), levels, norm, channels=channels)
    forward = wavedil.AtrousStream(wavelet(name), levels, "causal", norm=norm,
                                   channels=channels)
    padded = np.concatenate([x, np.zeros(lead + (inverse.latency,))], -1)
    coefficients = feed(forward, padded, sizes)
    y = feed(inverse, coefficients, sizes)
    assert y.shape == padded.shape
    assert_close(y[..., :length], x)


@settings(max_examples=25)
@given(name=st.sampled_from(SWT), levels=st.integers(1, 4), norm=st.booleans(),
       length=st.integers(0, 300), sizes=SIZES, seed=st.integers(0, 2**31 - 1))
def test_the_inverse_stream_is_the_synthesis_with_zeros_after_the_end(name, levels, norm,
                                                                      length, sizes, seed):
    """For any coefficients (not a transform: random), including the flush."""
    c = signal(seed, (levels + 1, length))
    y = feed(wavedil.InverseAtrousStream(wavelet(name), levels, norm), c, sizes)
    assert_close(y, synthesis(c, bank_of(name), norm))


# -- refusals -----------------------------------------------------------------------------------
def test_bad_options_and_functions_are_refused():
    with pytest.raises(ValueError, match="causal analysis.*alignment='centered'"):
        wavedil.ResynthesisStream("db4", 3, alignment="centered")
    with pytest.raises(ValueError, match="not a perfect-reconstruction bank"):
        wavedil.ResynthesisStream(([1.0, 1.0], [1.0, 2.0]), 2)
    with pytest.raises(ValueError, match="not a perfect-reconstruction bank"):
        wavedil.InverseAtrousStream(([1.0, 1.0], [1.0, 2.0]), 2)
    with pytest.raises(TypeError, match="fn must be None, a callable"):
        wavedil.Resynthesis("haar", 2, fn=3)
    late = wavedil.DilatedConv1d(np.ones((1, 1, 3)), alignment="centered").stream()
    with pytest.raises(ValueError, match="latency 0.*got latency 1"):
        wavedil.Resynthesis("haar", 2, fn=late)
    stream = wavedil.ResynthesisStream("haar", 2, fn=lambda c: c[:, :-1])
    with pytest.raises(ValueError, match=r"shape it gets, \(3, 10\), got \(3, 9\)"):
        stream.process(np.ones(10))


# -- the example and the README -----------------------------------------------------------------
def test_the_live_bands_example_equals_the_offline_chain(capsys):
    namespace = runpy.run_path(str(ROOT / "examples" / "live_bands.py"))
    assert namespace["main"](["--seconds", "1"]) == 0
    out = capsys.readouterr().out
    assert "EQUAL" in out and "latency" in out and " ms" in out
