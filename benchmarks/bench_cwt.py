"""Holschneider's CWT (``wavedil.cwt``) against the exact CWT, PyWavelets and scipy.

1. accuracy: the largest error of a band's filter (the à trous equivalent filter against the
   wavelet sampled at the band's scale), over frequency, relative to the peak of its
   spectrum, for interpolators of 2-8 points, a0 of 4-16 and 8-48 voices (Morlet, 6
   octaves, every octave à trous);
2. offline: 1 s of 48 kHz noise, 8 octaves x 12 voices, Morlet on the same scales (8 to
   ~3900 samples, 5.7 kHz down to 22 Hz) against ``pywt.cwt`` (``cmor2.0-0.955``, method
   ``fft`` and ``conv``), an FFT CWT written on scipy (``scipy.fft``, the closed-form
   spectrum, one inverse FFT per band), ssqueezepy's ``cwt`` (its Morlet, ``mu`` = 6) and
   fCWT (its Morlet of bandwidth 6/2π, float32, FFTW): times, ratios, and each one's error
   against the exact CWT;
3. the streams, undecimated and decimated (octave j every 2^j samples): chunks of 512 at
   48 kHz, real-time factor and latency; and the memory of the decimated form.

ssqueezepy is in the development extra. fCWT is optional (the ``bench`` extra): its sdist
builds, but its module loads only with FFTW's single-precision library installed (Debian:
``libfftw3-single3``); without it the table says so.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

import numpy as np
import pywt
import scipy.fft
from common import MATCHED_SAMPLE_SECONDS, MIN_SAMPLE_SECONDS, md_table, time_interleaved

from wavedil.wavelets.cwt import cwt
from wavedil.wavelets.cwt_operator import CWT
from wavedil.wavelets.cwt_plan import make_plan

RATE, OCTAVES, VOICES, SCALE0 = 48_000, 8, 12, 8.0
CHUNK = 512
W0 = 6.0


def run(smoke: bool) -> str:
    """The Markdown section (``smoke``: small sizes, 1 repeat)."""
    return "\n".join(["## Continuous wavelet transform (Holschneider's algorithm)", "",
                      accuracy_section(smoke), "", offline_section(smoke), "",
                      stream_section(smoke)])


# -- 1. accuracy --------------------------------------------------------------------------------

def filter_error(points: int, a0: float, voices: int, octaves: int = 6) -> float:
    """max over bands and frequency of |H_atrous - H_exact| / max |H_exact|."""
    plan = make_plan("morlet", octaves, voices, a0, a0, points, "centered")
    worst = 0.0
    for band in range(plan.bands):
        approx = plan.equivalent_filter(band)
        exact = plan.wavelet.filter(float(plan.scales[band]))
        size = 2 ** math.ceil(math.log2(4 * max(approx.size, exact.size)))
        spectra = []
        for taps in (approx, exact):  # centred at index 0, as a circular filter
            centred = np.zeros(size, complex)
            half = (taps.size - 1) // 2
            centred[np.arange(-half, half + 1) % size] = taps
            spectra.append(np.fft.fft(centred))
        worst = max(worst, float(np.max(np.abs(spectra[0] - spectra[1]))
                                 / np.max(np.abs(spectra[1]))))
    return worst


def accuracy_section(smoke: bool) -> str:
    octaves = 3 if smoke else 6
    points_list, a0_list = [2, 4, 6, 8], [4.0, 8.0, 16.0]
    rows = [[f"{p} points"] + [f"{100 * filter_error(p, a0, 12, octaves):.3g} %"
                               for a0 in a0_list] for p in points_list]
    voice_list = [8, 12] if smoke else [8, 12, 24, 48]
    by_voices = [[f"{v} voices"] + [f"{100 * filter_error(p, 8.0, v, octaves):.3g} %"
                                    for p in points_list] for v in voice_list]
    return "\n".join([
        "### Accuracy against the exact CWT", "",
        f"Largest error of a band's filter over frequency, relative to the peak of its "
        f"spectrum (= the largest error of |W| for a sinusoid of amplitude 1), over "
        f"{octaves} octaves of the Morlet (ω0 = 6), every octave à trous from a0:", "",
        md_table(["interpolator \\ a0"] + [f"a0 = {a:g}" for a in a0_list], rows), "",
        md_table(["a0 = 8"] + [f"{p} points" for p in points_list], by_voices), "",
        "The wavelet is cut where its lost L1 mass is 1e-5 of its spectral peak, the floor "
        "of the table. Octaves below a0 are computed directly (exact up to that cut)."])


# -- 2. offline against PyWavelets and scipy ------------------------------------------------

def scipy_cwt(x: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """An FFT CWT on scipy: one forward FFT, the Morlet's closed-form spectrum per band, one
    inverse FFT per band, on a zero-padded signal."""
    size = scipy.fft.next_fast_len(x.size + int(16 * scales.max()))
    spectrum = scipy.fft.fft(x, size)
    omega = 2 * np.pi * scipy.fft.fftfreq(size)
    out = np.empty((scales.size, x.size), complex)
    for b, a in enumerate(scales):
        psi = 2 * (np.exp(-(a * omega - W0) ** 2 / 2) - np.exp(-((a * omega) ** 2 + W0**2) / 2))
        out[b] = scipy.fft.ifft(spectrum * psi)[: x.size]
    return out


Transform = Callable[[], np.ndarray]


def competitors(x: np.ndarray, scales: np.ndarray) -> tuple[dict[str, tuple[Transform, float]],
                                                            list[str]]:
    """ssqueezepy's and fCWT's CWT of ``x`` on ``scales`` (Morlet, one thread), each with the
    gain of its normalisation against the exact CWT (its values = gain x exact), and a note
    for each one that is missing."""
    found: dict[str, tuple[Transform, float]] = {}
    missing = []
    os.environ["SSQ_PARALLEL"] = "0"  # ssqueezepy: one thread (numba loops and FFTs)
    try:
        import ssqueezepy
    except ModuleNotFoundError:
        missing.append("ssqueezepy not installed (it is in the dev extra)")
    else:
        for dtype in ("float32", "float64"):  # float32: its default
            wavelet = ssqueezepy.Wavelet(("morlet", {"mu": W0, "dtype": dtype}))
            # its spectrum is L1-normalised like the exact one, with peak sqrt(2) pi^(1/4)
            # (times ~1 for mu = 6) instead of 2
            gain = float(np.asarray(wavelet.fn(np.array([W0])))[0]) / 2

            xd, sd = x.astype(dtype), scales.astype(dtype)

            def run_ssq(wavelet=wavelet, xd=xd, sd=sd):
                return ssqueezepy.cwt(xd, wavelet, scales=sd, padtype="zero",
                                      astensor=False)[0]

            found[f"ssqueezepy {dtype}"] = (run_ssq, gain)
    try:
        import fcwt
    except ModuleNotFoundError:
        missing.append("fcwt not installed (the bench extra; it needs FFTW's single-precision "
                       "library, Debian libfftw3-single3)")
    except ImportError as error:  # built, but FFTW's library is missing
        missing.append(f"fcwt does not load ({error})")
    else:
        # fCWT's Morlet of bandwidth fb at its scale s is exp(-(fb (s w - 2 pi))^2 / 2):
        # the Morlet of w0 at scale a for fb = w0 / 2 pi and s = 2 pi a / w0
        morlet = fcwt.Morlet(W0 / (2 * np.pi))
        theirs = 2 * np.pi * scales / W0
        grid = fcwt.Scales(morlet, fcwt.FCWT_LOGSCALES, RATE, float(RATE / theirs[-1]),
                           float(RATE / theirs[0]), scales.size)
        # 1 thread, no wisdom files, normalised; each call makes its FFTW plans and the
        # Morlet's spectrum table, which it never frees (4 bytes per padded sample a call)
        transform = fcwt.FCWT(morlet, 1, False, True)
        x32 = x.astype(np.float32)

        def run_fcwt(keep=(morlet, grid)):  # SWIG keeps no reference: freed, they crash
            out = np.empty((scales.size, x.size), np.complex64)
            transform.cwt(x32, grid, out)
            return out

        found["fCWT"] = (run_fcwt, math.sqrt(2 * math.pi) * math.pi**-0.25 / 2)
    return found, missing


def offline_section(smoke: bool) -> str:
    seconds = 0.1 if smoke else 1.0
    x = np.random.default_rng(0).standard_normal(int(seconds * RATE))
    plan = make_plan("morlet", OCTAVES, VOICES, SCALE0, SCALE0, 8, "centered")
    scales = plan.scales
    exact = scipy_cwt(x, scales)  # within 1e-10 of the direct CWT at these scales
    wavelet = f"cmor2.0-{W0 / (2 * np.pi)}"
    inner = slice(x.size // 4, 3 * x.size // 4)

    def ours(dtype=np.float64, decimate=False):
        return cwt(x.astype(dtype), octaves=OCTAVES, voices=VOICES, scale0=SCALE0,
                   decimate=decimate)

    def error(values):  # against the exact CWT, relative to its largest magnitude
        return float(np.max(np.abs(values[:, inner] - exact[:, inner]))
                     / np.max(np.abs(exact[:, inner])))

    def pywt_error(method, rows=slice(None), **options):
        """|pywt| vs |exact| sqrt(a) / 2 (pywt: 1/sqrt(a), half a sample off), on ``rows``."""
        theirs = pywt.cwt(x, scales, wavelet, method=method, **options)[0]
        reference = np.abs(exact) * np.sqrt(scales)[:, None] / 2
        return float(np.max(np.abs(np.abs(theirs[rows, inner]) - reference[rows, inner]))
                     / np.max(reference[:, inner]))

    small = slice(0, int(np.searchsorted(scales, 256, side="right")))
    pywt_small, pywt_large = pywt_error("fft", small), pywt_error("fft", slice(small.stop, None))
    pywt_fine = pywt_error("fft", precision=16)

    def decimated_error(dtype):  # octave j against the exact CWT on its grid
        result = ours(dtype, decimate=True)
        grid = [(j, np.arange(x.size)[:: 2**j]) for j in range(OCTAVES)]
        return max(float(np.max(np.abs(result.octave(j)[:, (keep := (cols >= inner.start) &
                                                              (cols < inner.stop))]
                                       - exact[j * VOICES : (j + 1) * VOICES, cols[keep]])))
                   for j, cols in grid) / float(np.max(np.abs(exact[:, inner])))

    errors = {"wavedil float64": error(ours().coefficients),
              "wavedil float32": error(ours(np.float32).coefficients),
              "wavedil decimated": decimated_error(np.float64),
              "wavedil decimated float32": decimated_error(np.float32),
              "scipy FFT CWT": 0.0, "pywt fft": pywt_error("fft")}
    candidates = {"wavedil float64": lambda: ours(),
                  "wavedil float32": lambda: ours(np.float32),
                  "wavedil decimated": lambda: ours(decimate=True),
                  "wavedil decimated float32": lambda: ours(np.float32, True),
                  "scipy FFT CWT": lambda: scipy_cwt(x, scales),
                  "pywt fft": lambda: pywt.cwt(x, scales, wavelet, method="fft")}
    others, missing = competitors(x, scales)
    for name, (transform, gain) in others.items():
        candidates[name] = transform
        errors[name] = error(transform() / gain)
    timings = time_interleaved(candidates, repeats=1 if smoke else 5,
                               min_time=MIN_SAMPLE_SECONDS if smoke else MATCHED_SAMPLE_SECONDS)
    rows = [[name, f"{timings[name] / seconds:.3f}",
             f"{timings.ratio('pywt fft', name):.2f}x",
             f"{timings.ratio('scipy FFT CWT', name):.2f}x",
             f"{timings.ratio('fCWT', name):.2f}x" if "fCWT" in timings else "-",
             f"{errors[name]:.2g}"] for name in candidates]
    rows += [[note, "-", "-", "-", "-", "-"] for note in missing]
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return "\n".join([
        f"### Offline: {OCTAVES} octaves x {VOICES} voices at {RATE // 1000} kHz", "",
        f"{seconds:g} s of noise, Morlet (ω0 = 6) at scales {scales[0]:g} to "
        f"{scales[-1]:.0f} samples ({plan.frequencies(RATE)[0]:.0f} Hz down to "
        f"{plan.frequencies(RATE)[-1]:.0f} Hz); seconds per second of audio (median of "
        f"interleaved rounds), the speed-up of wavedil against each (> 1: wavedil faster), "
        f"and the largest error against the exact CWT relative to its largest magnitude "
        f"(pywt: of |W|, its 1/√a normalisation undone; it lies half a sample off).", "",
        md_table(["candidate", "s per s of audio", "pywt fft / this", "scipy FFT / this",
                  "fCWT / this", "error"], rows), "",
        f"pywt's error comes from its largest scales: {pywt_small:.2g} at scales up to 256, "
        f"{pywt_large:.2g} above. It samples the integral of its wavelet at 2^precision "
        f"points (default precision=12), too few for those scales; precision=16 gives "
        f"{pywt_fine:.2g}. "
        "pywt's direct method (`method=\"conv\"`) is left out: about 150 times slower than "
        "its FFT method here, it would take most of the benchmark's time. "
        "wavedil runs one thread (numba loops); the FFTs one thread too (scipy.fft, "
        "numpy.fft in pywt, ssqueezepy with SSQ_PARALLEL=0, fCWT given 1 thread). The "
        "decimated rows keep octave j every 2^j samples. ssqueezepy: zero padding, its "
        "Morlet (mu = 6, L1 norm; peak of its spectrum sqrt(2) pi^(1/4) instead of 2, "
        "divided out before the error). fCWT: float32, its Morlet of bandwidth 6/2π on its "
        "log scales 2π a / 6 (the same wavelets; its spectrum's peak sqrt(2π) π^(-1/4) "
        "divided out), the input zero-padded to a power of 2; its FFTW plans "
        "(FFTW_ESTIMATE) are made inside each call, which its Python API cannot keep, so "
        "they are timed (its optional FFTW_MEASURE wisdom files are not used). Load "
        f"average at the end: {load}."])


# -- 3. the stream ------------------------------------------------------------------------------

def stream_section(smoke: bool) -> str:
    """Every stream side by side (interleaved rounds): undecimated and decimated, both
    alignments, float64 and float32; wall-clock and the thread's CPU time."""
    seconds = 0.2 if smoke else 5.0
    x64 = np.random.default_rng(1).standard_normal(int(seconds * RATE))
    candidates, facts = {}, {}
    for alignment in ("centered", "causal"):
        op = CWT(octaves=OCTAVES, voices=VOICES, scale0=SCALE0, alignment=alignment)
        for decimate in (False, True):
            for dtype in (np.float64, np.float32):
                x = x64.astype(dtype)
                stream = op.stream(decimate=decimate)

                def feed(stream=stream, x=x):
                    stream.reset()
                    for i in range(0, x.size, CHUNK):
                        stream.process(x[i : i + CHUNK])

                name = (f"{'decimated' if decimate else 'undecimated'} {alignment} "
                        f"{np.dtype(dtype).name}")
                candidates[name], facts[name] = feed, op.latency
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    repeats = 1 if smoke else 5
    wall = time_interleaved(candidates, repeats=repeats)
    cpu = time_interleaved(candidates, repeats=repeats, clock=time.thread_time)
    rows = [[name, facts[name], f"{1000 * facts[name] / RATE:.1f}",
             f"{wall[name] / seconds:.3f}", f"{cpu[name] / seconds:.3f}"]
            for name in candidates]
    minutes = 10 * 60 * RATE
    full = OCTAVES * VOICES * minutes * 8
    decimated = sum(VOICES * math.ceil(minutes / 2**j) for j in range(OCTAVES)) * 8
    return "\n".join([
        f"### Streaming at {RATE // 1000} kHz, chunks of {CHUNK}", "",
        md_table(["stream", "latency (samples)", "latency (ms)", "RTF (wall)",
                  "RTF (CPU time)"], rows), "",
        f"{seconds:g} s of noise, {OCTAVES} octaves x {VOICES} voices, Morlet from scale "
        f"{SCALE0:g}, one thread; median of {repeats} interleaved rounds, timed by the wall "
        f"clock and by the thread's CPU time (which a busy machine disturbs less: load "
        f"average {load} at the start). The decimated stream (`CWT.stream(decimate=True)`) "
        f"hands out octave j every 2^j samples. Memory of 10 minutes at {RATE // 1000} kHz "
        f"in complex64: {full / 1e9:.1f} GB undecimated, {decimated / 1e9:.2f} GB decimated "
        f"(about 2 x voices x T)."])
