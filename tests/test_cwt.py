"""Holschneider's CWT (``wavedil.cwt``, ``CWT``, ``CWTStream``, ``DecimatedCWTStream``) against
independent oracles.

Oracles written here from the published definitions: the exact CWT as a direct correlation
with the Morlet wavelet sampled at each scale (scipy), the same through the FFT with the
Morlet's closed-form spectrum on a zero-padded signal (numpy), PyWavelets' ``cwt`` with its
complex Morlet, Daubechies filters (Shensa's statement) and Lagrange interpolation of
polynomials.
"""

import math

import numpy as np
import pytest
import pywt
import scipy.signal
from helpers import SPECIAL_SIZES, assert_close
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
from wavedil.wavelets.cwt_wavelets import lagrange_interpolator

W0 = 6.0


def morlet(t):
    """The admissible Morlet, peak of the spectrum 2 (written here, not imported)."""
    return math.sqrt(2 / math.pi) * (np.exp(1j * W0 * t) - np.exp(-W0**2 / 2)) * np.exp(-t**2 / 2)


def morlet_spectrum(omega):
    return 2 * (np.exp(-(omega - W0) ** 2 / 2) - np.exp(-(omega**2 + W0**2) / 2))


def direct_cwt(x, scale, half_width=12.0):
    """W[n] = (1/a) sum_k x[n + k] conj(psi(k / a)), x zero outside, by scipy (whose
    correlate conjugates its second argument)."""
    half = math.ceil(half_width * scale)
    k = np.arange(-half, half + 1)
    taps = morlet(k / scale) / scale
    return scipy.signal.correlate(x, taps, mode="same", method="direct") if x.size >= taps.size \
        else scipy.signal.correlate(np.pad(x, half), taps, mode="valid")


def fft_cwt(x, scale):
    """The same through the FFT with the closed-form spectrum, on a zero-padded signal."""
    pad = 2 ** math.ceil(math.log2(x.size + 16 * scale + 1))
    omega = 2 * np.pi * np.fft.fftfreq(pad)
    return np.fft.ifft(np.fft.fft(x, pad) * morlet_spectrum(scale * omega))[: x.size]


def relative(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def noise(n, seed=0):
    return np.random.default_rng(seed).standard_normal(n)


# -- the interpolators ------------------------------------------------------------------------

def test_lagrange_interpolators_closed_forms():
    assert np.allclose(lagrange_interpolator(2), [0.5, 1, 0.5], rtol=0, atol=1e-15)
    assert np.allclose(lagrange_interpolator(4) * 16, [-1, 0, 9, 16, 9, 0, -1], rtol=0,
                       atol=1e-13)
    assert np.allclose(lagrange_interpolator(6) * 256,
                       [3, 0, -25, 0, 150, 256, 150, 0, -25, 0, 3], rtol=0, atol=1e-12)


@pytest.mark.parametrize("points", [2, 4, 6, 8, 10])
def test_lagrange_interpolates_polynomials_exactly(points):
    """Upsampled by 2 and filtered, samples of a polynomial of degree < points come back with
    the odd samples filled in exactly (f[0] = 1, f[2k] = 0: the even ones stay)."""
    f = lagrange_interpolator(points)
    coeffs = np.random.default_rng(points).standard_normal(points)
    fine = np.arange(-80, 81) / 20
    coarse = np.zeros_like(fine)
    coarse[::2] = np.polyval(coeffs, fine[::2])
    filled = np.convolve(coarse, f, mode="same")
    inner = slice(2 * points, -2 * points)
    assert np.allclose(filled[inner], np.polyval(coeffs, fine)[inner], rtol=0, atol=1e-9)


@pytest.mark.parametrize("moments", range(1, 11))
def test_shensa_lagrange_is_the_daubechies_autocorrelation(moments):
    """Shensa (1992): the 2p-point Lagrange interpolator is the autocorrelation of the
    Daubechies filter with p vanishing moments (ours and PyWavelets')."""
    for lowpass in (wavedil.filter_bank(f"db{moments}").dec_lo,
                    np.array(pywt.Wavelet(f"db{moments}").dec_lo)):
        auto = np.correlate(lowpass, lowpass, "full") / np.sum(lowpass**2)
        np.testing.assert_allclose(auto, lagrange_interpolator(2 * moments), rtol=0, atol=1e-12)


# -- accuracy against the exact CWT -----------------------------------------------------------

def test_direct_octaves_are_the_exact_cwt():
    x = noise(3000)
    r = wavedil.cwt(x, octaves=2, voices=5, scale0=2.0, a0=8.0)
    assert r.plan.first_atrous_octave == 2  # every band direct
    for b, scale in enumerate(r.scales):
        assert relative(r.coefficients[b], direct_cwt(x, scale)) < 1e-4  # the cut (TAIL)


@pytest.mark.parametrize(("points", "a0", "bound"), [(8, 8.0, 1e-3), (6, 8.0, 1e-3),
                                                      (4, 8.0, 1e-2), (2, 8.0, 0.1),
                                                      (8, 16.0, 1e-4)])
def test_atrous_octaves_against_the_exact_cwt(points, a0, bound):
    """Noise through 4 octaves x 6 voices: every band within the bound of the direct CWT and
    of the FFT CWT (closed-form spectrum); the bounds are the README table's, rounded up."""
    x = noise(6000, seed=points)
    r = wavedil.cwt(x, octaves=4, voices=6, scale0=a0, a0=a0, interpolator=points)
    worst = max(relative(r.coefficients[b], direct_cwt(x, s)) for b, s in enumerate(r.scales))
    assert worst < bound
    worst_fft = max(relative(r.coefficients[b], fft_cwt(x, s)) for b, s in enumerate(r.scales))
    assert worst_fft < bound


def test_the_error_falls_with_the_interpolator_order():
    x = noise(4000, seed=3)
    errors = []
    for points in (2, 4, 6, 8):
        r = wavedil.cwt(x, octaves=3, voices=4, scale0=8.0, interpolator=points)
        errors.append(max(relative(r.coefficients[b], fft_cwt(x, s))
                          for b, s in enumerate(r.scales)))
    assert errors == sorted(errors, reverse=True) and errors[0] > 30 * errors[-1], errors


def test_equivalent_filter_spectrum_within_the_documented_default_bound():
    """The impulse response of each band (the filter the algorithm really applies) against
    the closed-form spectrum: the default (8 points, a0 = 8) stays under 0.1 %."""
    n = 2**15
    impulse = np.zeros(n)
    impulse[n // 2] = 1
    r = wavedil.cwt(impulse, octaves=6, voices=12, scale0=8.0)
    omega = 2 * np.pi * np.fft.fftfreq(n)
    worst = 0.0
    for b, scale in enumerate(r.scales):
        # W[m] = sum_k c[k] x[m + k] = c[n/2 - m]: A[k mod n] = c[k], then sum_k c[k] e^{iωk}
        taps = np.roll(r.coefficients[b][::-1], -(n // 2 - 1))
        response = n * np.fft.ifft(taps)
        exact = morlet_spectrum(scale * omega)
        worst = max(worst, float(np.max(np.abs(response - exact)) / 2))
    assert worst < 1e-3


def test_pywavelets_complex_morlet_agrees_on_tones():
    """pywt.cwt with cmor2.0-(6/2π) (ψ_pywt = our ψ / 2, normalised by 1/√a, and half a
    sample off: its integrate-and-difference) matches |W| √a / 2 within 2 % where the tones
    are; our L1 normalisation gives |W| = the tone's amplitude at its band."""
    n = np.arange(6000)
    probe = wavedil.cwt(np.zeros(8), octaves=4, voices=3, scale0=8.0)
    f = probe.frequencies
    x = np.cos(2 * np.pi * f[2] * n) + 0.5 * np.cos(2 * np.pi * f[8] * n + 1)
    r = wavedil.cwt(x, octaves=4, voices=3, scale0=8.0)
    inner = slice(1500, 4500)
    assert abs(np.abs(r.coefficients[2][inner]).mean() - 1.0) < 1e-3
    assert abs(np.abs(r.coefficients[8][inner]).mean() - 0.5) < 1e-3
    for method in ("conv", "fft"):
        theirs, _ = pywt.cwt(x, r.scales, f"cmor2.0-{W0 / (2 * np.pi)}", method=method)
        for b, scale in enumerate(r.scales):
            ours = np.sqrt(scale) / 2 * np.abs(r.coefficients[b][inner])
            if ours.max() > 0.1 * np.sqrt(scale) / 2:
                assert relative(np.abs(theirs[b][inner]), ours) < 0.02, (method, b)


def test_morse_filters_have_the_closed_form_spectrum():
    wave = wavedil.ContinuousWavelet.morse(20, 3)
    beta, gamma = 20, 3
    for scale in (6.0, 10.0):
        taps = wave.filter(scale)
        half = (taps.size - 1) // 2
        omega = np.linspace(0, np.pi, 512)
        # correlation taps c[k] = conj(psi(k / a)) / a: sum_k c[k] e^{i omega k} = spectrum
        measured = np.exp(1j * np.outer(omega, np.arange(-half, half + 1))) @ taps
        w = scale * omega
        exact = np.where(w > 0, 2 * (math.e * gamma / beta) ** (beta / gamma) * w**beta
                         * np.exp(-(w**gamma)), 0)
        assert np.max(np.abs(measured - exact)) < 1e-4
    assert wave.omega == pytest.approx((beta / gamma) ** (1 / gamma))


def test_a_callable_wavelet_gives_the_morlet_result():
    x = noise(2000, seed=5)
    ours = wavedil.cwt(x, octaves=3, voices=4)
    custom = wavedil.cwt(x, morlet, octaves=3, voices=4)
    assert custom.plan.wavelet.hermitian
    assert_close(custom.coefficients, ours.coefficients)


# -- the facts per band ---------------------------------------------------------------------

def test_scales_frequencies_cone_and_delays():
    r = wavedil.cwt(noise(5000), octaves=3, voices=4, scale0=4.0, a0=8.0, sample_rate=16000)
    expected = 4.0 * 2.0 ** (np.arange(3)[:, None] + np.arange(4)[None, :] / 4).reshape(-1)
    np.testing.assert_allclose(r.scales, expected)
    np.testing.assert_allclose(r.frequencies, W0 / (2 * np.pi * expected) * 16000)
    np.testing.assert_allclose(r.cone, np.sqrt(2) * expected, rtol=1e-3)  # Torrence-Compo
    assert (r.delays == 0).all() and r.lookahead.max() == r.plan.latency > 0
    causal = wavedil.cwt(noise(5000), octaves=3, voices=4, scale0=4.0, alignment="causal")
    assert causal.plan.latency == 0 and (causal.delays == r.lookahead).all()
    mask = r.cone_mask()
    assert mask.shape == (12, 5000) and mask[:, 0].all() and not mask[:, 2500].any()


def test_causal_is_centered_delayed_by_each_bands_delay():
    x = noise(4000, seed=7)
    centered = wavedil.cwt(x, octaves=4, voices=3)
    causal = wavedil.cwt(x, octaves=4, voices=3, alignment="causal")
    for b, delay in enumerate(causal.delays):
        assert_close(causal.coefficients[b][delay:], centered.coefficients[b][: x.size - delay])


def test_impulse_responses_span_each_bands_reach():
    """Output n reads x[n - left .. n + right]: an impulse at p reaches outputs p - right ..
    p + left and no other (lookahead = right)."""
    n, p = 4096, 2000
    x = np.zeros(n)
    x[p] = 1
    for alignment in ("centered", "causal"):
        r = wavedil.cwt(x, octaves=3, voices=2, scale0=2.0, a0=4.0, interpolator=4,
                        alignment=alignment)
        for b in range(r.plan.bands):
            left, right = r.plan.reach[b]
            nonzero = np.flatnonzero(r.coefficients[b])
            assert nonzero.min() >= p - right and nonzero.max() <= p + left
            assert nonzero.min() <= p - right + 2 and nonzero.max() >= p + left - 2
        np.testing.assert_array_equal(r.lookahead, r.plan.reach[:, 1])


# -- decimation, boundaries, layouts ---------------------------------------------------------

@settings(max_examples=15, deadline=None)
@given(length=st.integers(1, 700), alignment=st.sampled_from(["centered", "causal"]),
       boundary=st.sampled_from(["zero", "edge", "periodic", "symmetric", "reflect"]),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_decimated_octaves_are_the_undecimated_on_their_grid(length, alignment, boundary,
                                                             dtype):
    x = noise(length, seed=length).astype(dtype)
    options = dict(octaves=4, voices=3, scale0=2.0, a0=4.0, interpolator=4,
                   alignment=alignment, boundary=boundary)
    full = wavedil.cwt(x, **options)
    dec = wavedil.cwt(x, decimate=True, **options)
    for j in range(4):
        assert dec.octave(j).shape == (3, -(-length // 2**j)) and dec.hops[j] == 2**j
        assert_close(dec.octave(j), full.octave(j)[..., :: 2**j], dtype)
    with pytest.raises(ValueError, match="octave"):
        _ = dec.coefficients


def test_boundaries_extend_x():
    """Every boundary is the zero-boundary transform of x extended by numpy's pad."""
    x = noise(300, seed=9)
    r = wavedil.cwt(x, octaves=2, voices=2, scale0=4.0, a0=4.0)
    pad = int(r.plan.reach.max())
    for boundary, mode in [("edge", "edge"), ("periodic", "wrap"),
                           ("symmetric", "symmetric"), ("reflect", "reflect")]:
        extended = np.pad(x, pad, mode=mode)
        whole = wavedil.cwt(extended, octaves=2, voices=2, scale0=4.0, a0=4.0)
        ours = wavedil.cwt(x, octaves=2, voices=2, scale0=4.0, a0=4.0, boundary=boundary)
        assert_close(ours.coefficients, whole.coefficients[:, pad:-pad])


def test_layouts_axis_and_dtypes():
    x = noise(2 * 3 * 500).reshape(2, 3, 500)
    r = wavedil.cwt(x, octaves=2, voices=2)
    assert r.coefficients.shape == (4, 2, 3, 500) and r.coefficients.dtype == np.complex128
    moved = wavedil.cwt(np.moveaxis(x, -1, 0), octaves=2, voices=2, axis=0)
    assert moved.coefficients.shape == (4, 500, 2, 3)
    assert_close(np.moveaxis(moved.coefficients, 1, -1), r.coefficients)
    single = wavedil.cwt(x.astype(np.float32), octaves=2, voices=2)
    assert single.coefficients.dtype == np.complex64
    assert_close(single.coefficients, r.coefficients, np.float32)
    assert wavedil.cwt(np.arange(10), octaves=1, voices=1).coefficients.dtype == np.complex128
    empty = wavedil.cwt(np.zeros((2, 0)), octaves=2, voices=3, axis=-1)
    assert empty.coefficients.shape == (6, 2, 0)
    op = wavedil.CWT(octaves=2, voices=2, channels=3)
    assert_close(op(x), r.coefficients)


def test_refusals_quote_the_numbers():
    with pytest.raises(ValueError, match=r"scale0 = 1.5 .* use scale0 >= 1.9"):
        wavedil.cwt(noise(100), scale0=1.5)
    with pytest.raises(ValueError, match="boundary must be one of"):
        wavedil.cwt(noise(100), boundary="mirror")
    with pytest.raises(ValueError, match="even number of points"):
        wavedil.cwt(noise(100), interpolator=5)
    with pytest.raises(ValueError, match="pass axis=0"):
        wavedil.cwt(noise(2000).reshape(1000, 2))
    with pytest.raises(ValueError, match="must decay"):
        wavedil.cwt(noise(100), lambda t: np.exp(1j * t))
    with pytest.raises(ValueError, match="periodic, symmetric and reflect"):
        wavedil.CWTStream(boundary="periodic")
    with pytest.raises(TypeError, match="float32, float64 or integer"):
        wavedil.cwt(np.zeros(10, complex))
    with pytest.raises(ValueError, match="alignment"):
        wavedil.CWT(alignment="pywt")


# -- streaming --------------------------------------------------------------------------------

@settings(max_examples=12, deadline=None)
@given(length=st.integers(0, 1500), sizes=st.lists(st.one_of(
    st.sampled_from(SPECIAL_SIZES), st.integers(0, 2000)), min_size=1, max_size=6),
       alignment=st.sampled_from(["centered", "causal"]),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_any_chunking_equals_offline_bit_for_bit(length, sizes, alignment, dtype):
    """Direct and à trous octaves (6 levels of holes), any chunk sizes."""
    op = wavedil.CWT(octaves=7, voices=3, scale0=2.0, a0=4.0, interpolator=6,
                     alignment=alignment, boundary="edge")
    x = noise(length, seed=length).astype(dtype)
    offline = op(x)
    streamed = wavedil.run_stream(op, x, [s for s in sizes] if any(sizes) else [1])
    assert streamed.dtype == offline.dtype == (np.complex64 if dtype == np.float32
                                               else np.complex128)
    np.testing.assert_array_equal(streamed, offline)
    assert_close(offline, wavedil.cwt(x, octaves=7, voices=3, scale0=2.0, a0=4.0,
                                      interpolator=6, alignment=alignment,
                                      boundary="edge").coefficients, dtype)


def test_stream_state_continues_and_reports_latency():
    op = wavedil.CWT(octaves=5, voices=4)
    x = noise(3000, seed=11)
    first = op.stream()
    head = first.process(x[:1234])
    second = op.stream()
    second.load_state_dict(first.state_dict())
    rest = np.concatenate([second.process(x[1234:]), second.flush()], axis=-1)
    np.testing.assert_array_equal(np.concatenate([head, rest], axis=-1), op(x))
    assert head.shape == (20, 1234 - op.latency) and op.latency == op.plan.lookahead.max()
    other = wavedil.CWT(octaves=5, voices=5).stream()
    with pytest.raises(ValueError, match="voices: expected 5, got 4"):
        other.load_state_dict(first.state_dict())


def _octaves(parts, octaves):
    """Per octave, the columns of every call of a decimated stream, concatenated."""
    return [np.concatenate([p[j] for p in parts], axis=-1) for j in range(octaves)]


@settings(max_examples=12, deadline=None)
@given(length=st.integers(0, 1500), sizes=st.lists(st.one_of(
    st.sampled_from(SPECIAL_SIZES), st.integers(0, 2000)), min_size=1, max_size=6),
       alignment=st.sampled_from(["centered", "causal"]), boundary=st.sampled_from(
           ["zero", "edge"]), dtype=st.sampled_from([np.float64, np.float32]))
def test_decimated_stream_any_chunking_equals_offline(length, sizes, alignment, boundary,
                                                      dtype):
    """Octave j every 2^j samples, in any chunks: bit for bit ``cwt(decimate=True)``, and
    the undecimated transform on the grid (direct octaves 0-1 with steps 1-2, à trous
    octaves 2-6 on levels 1-5)."""
    options = dict(octaves=7, voices=3, scale0=2.0, a0=4.0, interpolator=6,
                   alignment=alignment, boundary=boundary)
    x = noise(length, seed=length).astype(dtype)
    stream = wavedil.CWT(**options).stream(decimate=True)
    sizes = sizes if any(sizes) else [1]
    parts, start, i = [stream.process(x[:0])], 0, 0  # fixes the dtype even if x is empty
    while start < length:
        chunk = x[start : start + sizes[i % len(sizes)]]
        before = stream.emitted
        parts.append(stream.process(chunk))
        start, i = start + chunk.size, i + 1
        assert stream.emitted == max(0, start - stream.latency) >= before
    parts.append(stream.flush())
    assert stream.emitted == length
    offline = wavedil.cwt(x, decimate=True, **options)
    full = wavedil.cwt(x, **options)
    for j, octave in enumerate(_octaves(parts, 7)):
        assert octave.dtype == (np.complex64 if dtype == np.float32 else np.complex128)
        np.testing.assert_array_equal(octave, offline.octave(j))
        assert_close(octave, full.octave(j)[..., :: 2**j], dtype)


def test_decimated_stream_layouts_state_and_latency():
    """``(B, C, m)`` chunks give ``(voices, B, C, n_j)`` per octave; a state saved half way
    continues bit for bit; the latency and ``emitted`` are the undecimated stream's."""
    op = wavedil.CWT(octaves=4, voices=2, channels=2, alignment="causal")
    x = noise(2 * 2 * 900, seed=3).reshape(2, 2, 900)
    first = op.stream(decimate=True)
    head = first.process(x[..., :333])
    assert [h.shape for h in head] == [(2, 2, 2, -(-333 // 2**j)) for j in range(4)]
    assert first.latency == op.stream().latency == 0 and first.emitted == 333
    second = op.stream(decimate=True)
    second.load_state_dict(first.state_dict())
    rest = [second.process(x[..., 333:]), second.flush()]
    offline = wavedil.cwt(x, octaves=4, voices=2, alignment="causal", decimate=True)
    for j, octave in enumerate(_octaves([head] + rest, 4)):
        np.testing.assert_array_equal(octave, offline.octave(j))
    with pytest.raises(ValueError, match="op: expected 'CWTStream', got 'DecimatedCWTStream'"):
        op.stream().load_state_dict(first.state_dict())
    empty = wavedil.CWT(octaves=3, voices=2).stream(decimate=True).flush()
    assert [e.shape for e in empty] == [(2, 0)] * 3
    assert "DecimatedCWTStream('morlet6', octaves=3" in repr(
        wavedil.CWT(octaves=3, voices=2).stream(decimate=True))


def test_the_scalogram_example_streams_equal_to_offline(tmp_path, capsys):
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "examples" / "cwt_scalogram.py"
    main = runpy.run_path(str(script))["main"]
    output = tmp_path / "cwt.png"
    assert main(["--seconds", "1", "--octaves", "6", "--voices", "6",
                 "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "equal to offline bit for bit: True" in out and "strongest band" in out
    assert output.read_bytes().startswith(b"\x89PNG") and output.stat().st_size > 10_000


def test_a_wavelet_without_symmetry_runs_the_unfolded_path():
    """ψ(t - 0.3) is not Hermitian: every tap is summed (and the decimated grid strided)."""
    shifted = wavedil.ContinuousWavelet.from_function(lambda t: morlet(t - 0.3), "shifted")
    assert not shifted.hermitian
    x = noise(3000, seed=13)
    options = dict(octaves=3, voices=3, scale0=2.0, a0=4.0)
    r = wavedil.cwt(x, shifted, **options)
    for b in range(3):  # the direct octave: the exact CWT of the shifted wavelet
        scale = r.scales[b]
        half = math.ceil(12 * scale)
        k = np.arange(-half, half + 1)
        exact = scipy.signal.correlate(x, morlet(k / scale - 0.3) / scale, mode="same")
        assert relative(r.coefficients[b], exact) < 1e-4
    dec = wavedil.cwt(x, shifted, decimate=True, **options)
    for j in range(3):
        assert_close(dec.octave(j), r.octave(j)[:, :: 2**j])
    streamed = wavedil.run_stream(wavedil.CWT(shifted, **options), x, [7, 1, 300])
    np.testing.assert_array_equal(streamed, r.coefficients)
    sparse = wavedil.CWT(shifted, **options).stream(decimate=True)
    parts = [sparse.process(x[i : i + 701]) for i in range(0, x.size, 701)] + [sparse.flush()]
    for j, octave in enumerate(_octaves(parts, 3)):
        np.testing.assert_array_equal(octave, dec.octave(j))


def test_dask_with_the_receptive_fields_halo():
    import dask.array as da

    import wavedil.dask

    op = wavedil.CWT(octaves=5, voices=3)
    assert wavedil.halo(op) == tuple(op.plan.reach.max(axis=0))
    x = noise(20_000, seed=17)
    y = wavedil.dask.apply(op, da.from_array(x, chunks=3000)).compute()
    np.testing.assert_array_equal(y, op(x))
