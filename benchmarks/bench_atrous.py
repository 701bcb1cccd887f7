"""The à trous transform against PyWavelets, its streams, and the denoiser on speech.

1. ``atrous`` / ``iatrous`` / ``mra`` vs ``pywt.swt`` / ``pywt.iswt`` / ``pywt.mra`` (pywt
   phase, periodic boundary: the same numbers, checked before timing): N = 2^20, 8 levels,
   db4 and haar, float64 and float32;
2. the deep case: N = 2^16, db4, 15 levels vs ``pywt.swt`` (skipped for pywt at smoke
   size: it takes seconds);
3. the causal ``AtrousStream`` at 48 kHz, 8 levels, chunks of 256: real-time factor;
4. denoising: ``data/speech_noisy.wav`` (5 dB SNR), then tones, sweeps and the speech at
   0-20 dB input SNR, with the default stream (``wavedil.Denoiser()``), the offline
   default (``wavedil.denoise``) and scikit-image's ``denoise_wavelet`` (BayesShrink, sym8)
   and its 8-shift cycle spinning (without scikit-image: the same recipe written here on
   PyWavelets, decimated ``wavedec`` BayesShrink, 8 circular shifts averaged); the live
   denoiser's latency against its quality, its running statistics, and the offline
   alignment and boundary.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pywt
import soundfile as sf
from common import (
    MATCHED_SAMPLE_SECONDS,
    MIN_SAMPLE_SECONDS,
    copy_bandwidth_gbs,
    md_table,
    time_interleaved,
)

from wavedil.wavelets.denoise import (
    denoise,
    detail_gains,
    level_thresholds,
    noise_sigma,
    shrink,
)
from wavedil.wavelets.denoise_stream import Denoiser, DenoiseStream
from wavedil.wavelets.streams import AtrousStream
from wavedil.wavelets.transform import atrous, iatrous, mra

DATA = Path(__file__).resolve().parent.parent / "data"
LEVELS = 8
TARGETS = {"forward": 2.0, "inverse": 4.0, "mra": 4.0, "deep": 50.0}
STREAM_RATE, STREAM_CHUNK, RTF_TARGET = 48_000, 256, 0.01


def run(smoke: bool) -> str:
    """The Markdown section (``smoke``: small sizes, 1-2 repeats)."""
    sections = ["## À trous wavelet transform", "",
                transform_section(smoke), "", deep_section(smoke), "",
                stream_section(smoke), "", denoise_section(smoke)]
    return "\n".join(sections)


# -- 1. offline transforms vs PyWavelets ------------------------------------------------------

def swt_order(coeffs):
    """pywt.swt(trim_approx=True) [cA_J, cD_J, ..., cD_1] -> our stack (w_1..w_J, c_J)."""
    return np.array(coeffs[:0:-1] + [coeffs[0]])


def transform_section(smoke: bool) -> str:
    n = 2**14 if smoke else 2**20
    repeats = 1 if smoke else 5
    x64 = np.random.default_rng(0).standard_normal(n)
    rows = []
    for wavelet in ["db4", "haar"]:
        for dtype in [np.float64, np.float32]:
            x = x64.astype(dtype)
            ours = atrous(x, wavelet, LEVELS, alignment="pywt", boundary="periodic")
            theirs = pywt.swt(x, wavelet, LEVELS, trim_approx=True)
            diff = float(np.max(np.abs(ours.stack() - swt_order(theirs))))
            inverse_error = float(np.max(np.abs(iatrous(ours) - x)))
            ours_mra = mra(x, wavelet, LEVELS, alignment="pywt")
            theirs_mra = pywt.mra(x, wavelet, LEVELS, transform="swt")
            mra_diff = float(np.max(np.abs(ours_mra - swt_order(theirs_mra))))
            times = _time_transforms(x, wavelet, ours, theirs, repeats, smoke)
            name = f"{wavelet} {np.dtype(dtype).name}"
            for op, ref, check in [("forward", "pywt.swt", diff),
                                   ("inverse", "pywt.iswt", inverse_error),
                                   ("mra", "pywt.mra", mra_diff)]:
                ratio = times.ratio(ref, op)
                rows.append([name, op, f"{times[op] * 1e3:.1f}", f"{times[ref] * 1e3:.1f}",
                             f"{ratio:.2f}x", f">= {TARGETS[op]:g}x",
                             "met" if ratio >= TARGETS[op] else "missed", f"{check:.1e}"])
    floor = _bandwidth_floor_ms(n, 8)
    sample = MIN_SAMPLE_SECONDS if smoke else MATCHED_SAMPLE_SECONDS
    text = [f"### Offline, N = {n}, {LEVELS} levels (pywt phase, periodic)", "",
            md_table(["wavelet", "operation", "wavedil ms", "pywt ms", "speed-up", "target",
                      "", "max abs diff (fwd: vs pywt; inv: vs x; mra: vs pywt)"], rows), "",
            f"Medians of {repeats} interleaved rounds, samples of at least {sample:g} s "
            f"(repeated calls); speed-up = the median of the per-round ratios. "
            f"Memory-traffic floor of the float64 forward (each level reads c and writes c "
            f"and w once): {floor:.1f} ms at the measured copy bandwidth. Every level is one "
            f"compiled (numba, single-threaded, no fastmath) pass that reads c_(j-1) once and "
            f"writes c_j and w_j: tap groups of four over 512-sample blocks, summed in tap "
            f"order, so bit-identical to the numpy per-tap formula; the interior is read in "
            f"place and only the edges are extended. The inverse fuses both synthesis "
            f"filters, their sum and the 1/gain scale in one pass per level; mra runs the "
            f"lowpass kernel. Outputs of 32 MB and more (the details here) come from "
            f"`wavedil.engine.memory`: the memory of an earlier result that nothing refers to any "
            f"more, as glibc itself recycles pywt's smaller per-level arrays; into fresh "
            f"memory the float64 haar forward took 17.1 ms instead of 8.4 ms (page faults and "
            f"zeroing of 64 MB). {jit_note(smoke)}"]
    return "\n".join(text)


def _time_transforms(x, wavelet, ours, theirs, repeats, smoke):
    """Each pair interleaved, in samples of similar length (see ``MATCHED_SAMPLE_SECONDS``)."""
    min_time = MIN_SAMPLE_SECONDS if smoke else MATCHED_SAMPLE_SECONDS
    times = time_interleaved({
        "forward": lambda: atrous(x, wavelet, LEVELS, alignment="pywt"),
        "pywt.swt": lambda: pywt.swt(x, wavelet, LEVELS, trim_approx=True),
        "inverse": lambda: iatrous(ours),
        "pywt.iswt": lambda: pywt.iswt(theirs, wavelet),
    }, repeats=repeats, min_time=min_time)
    mra_times = time_interleaved({
        "mra": lambda: mra(x, wavelet, LEVELS, alignment="pywt"),
        "pywt.mra": lambda: pywt.mra(x, wavelet, LEVELS, transform="swt"),
    }, repeats=repeats, min_time=min_time)
    times.update(mra_times)
    times.samples.update(mra_times.samples)
    return times


def _bandwidth_floor_ms(n: int, itemsize: int) -> float:
    traffic = LEVELS * 3 * n * itemsize  # read c_{j-1}, write c_j and w_j
    return traffic / (copy_bandwidth_gbs(16) * 1e9) * 1e3


def jit_note(smoke: bool) -> str:
    """The first-call cost of the compiled kernels, measured in fresh processes."""
    if smoke:
        return "The JIT's first-call cost is measured at full size only."
    code = ("import time, numpy as np; t = time.perf_counter(); "
            "from wavedil.wavelets.transform import atrous, iatrous; "
            "from wavedil.wavelets.streams import AtrousStream; x = np.ones(4096); "
            "r = atrous(x, 'db4', 8, alignment='pywt'); iatrous(r); "
            "AtrousStream('db4', 8).process(x); "
            "atrous(x.astype(np.float32), 'db4', 8); "
            "print(time.perf_counter() - t)")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold = [float(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                     capture_output=True, text=True).stdout)
                for _ in range(2)]
    return (f"First calls in a fresh process (forward, inverse, stream, float64 and a "
            f"float32 forward): {cold[0]:.1f} s when numba compiles (empty cache), "
            f"{cold[1]:.2f} s when it loads its on-disk cache; not in the timings.")


# -- 2. deep levels -----------------------------------------------------------------------------

def deep_section(smoke: bool) -> str:
    n, levels = 2**16, 15
    x = np.random.default_rng(1).standard_normal(n)
    if smoke:
        ours = time_interleaved({"ours": lambda: atrous(x, "db4", levels, alignment="pywt")},
                                repeats=1)["ours"]
        row = ["db4 float64", f"{ours * 1e3:.1f}", "not run (smoke)", "-", "-", "-"]
    else:
        diff = float(np.max(np.abs(atrous(x, "db4", levels, alignment="pywt").stack()
                                   - swt_order(pywt.swt(x, "db4", levels, trim_approx=True)))))
        times = time_interleaved({
            "ours": lambda: atrous(x, "db4", levels, alignment="pywt"),
            "pywt": lambda: pywt.swt(x, "db4", levels, trim_approx=True),
        }, repeats=3)
        ratio = times["pywt"] / times["ours"]
        row = ["db4 float64", f"{times['ours'] * 1e3:.1f}", f"{times['pywt'] * 1e3:.0f}",
               f"{ratio:.0f}x", "met" if ratio >= TARGETS["deep"] else "missed",
               f"{diff:.1e}"]
    return "\n".join([f"### Deep: N = {n}, {levels} levels", "",
                      md_table(["wavelet", "wavedil ms", "pywt.swt ms", "speed-up (>= 50x)",
                                "", "max abs diff"], [row]), "",
                      f"Medians of {1 if smoke else 3} interleaved runs (pywt takes seconds "
                      "per call here). "
                      "Each level costs K multiply-adds per sample whatever its dilation."])


# -- 3. streams ----------------------------------------------------------------------------------

def stream_section(smoke: bool) -> str:
    seconds = 0.5 if smoke else 10.0
    x64 = np.random.default_rng(2).standard_normal(int(seconds * STREAM_RATE))
    rows = []
    for wavelet in ["starlet", "haar", "db4"]:
        for dtype in [np.float32, np.float64]:
            x = x64.astype(dtype)
            for chunk in [STREAM_CHUNK, 1024]:
                stream = AtrousStream(wavelet, LEVELS)

                def feed(stream=stream, x=x, chunk=chunk):
                    stream.reset()
                    for i in range(0, x.size, chunk):
                        stream.process(x[i : i + chunk])

                elapsed = time_interleaved({"s": feed}, repeats=1 if smoke else 3)["s"]
                rtf = elapsed / seconds
                rows.append([wavelet, np.dtype(dtype).name, chunk, stream.latency,
                             f"{rtf:.4f}", f"{elapsed / (x.size / chunk) * 1e6:.0f}",
                             ("met" if rtf <= RTF_TARGET else "missed")
                             if chunk == STREAM_CHUNK else "-"])
    return "\n".join([f"### Causal stream at {STREAM_RATE // 1000} kHz, {LEVELS} levels", "",
                      md_table(["wavelet", "dtype", "chunk", "latency (samples)", "RTF",
                                "us per chunk", f"RTF <= {RTF_TARGET} at {STREAM_CHUNK}"],
                               rows), "",
                      f"{seconds:g} s of noise fed chunk by chunk (median of 3 runs). One "
                      f"compiled call per chunk runs all {LEVELS} levels (histories and "
                      f"delay lines inside the kernel); the rest of the time is the Stream "
                      f"API's Python (checks, reshapes, the output array)."])


# -- 4. denoising --------------------------------------------------------------------------------

def snr_db(clean, estimate):
    return float(10 * np.log10(np.sum(clean**2) / np.sum((estimate - clean) ** 2)))


def pywt_bayes(x, wavelet="sym8"):
    """scikit-image's recipe on PyWavelets: decimated DWT, sigma from the finest level's
    MAD, BayesShrink per level (soft), levels = dwt_max_level - 3."""
    levels = max(1, pywt.dwt_max_level(x.size, pywt.Wavelet(wavelet).dec_len) - 3)
    coeffs = pywt.wavedec(x, wavelet, level=levels)
    sigma = np.median(np.abs(coeffs[-1])) / 0.6745
    out = [coeffs[0]]
    for d in coeffs[1:]:
        signal_var = max(np.mean(d**2) - sigma**2, 1e-300)
        out.append(pywt.threshold(d, sigma**2 / np.sqrt(signal_var), "soft"))
    return pywt.waverec(out, wavelet)[: x.size]


def cycle_spun(fn, x, shifts=8):
    return np.mean([np.roll(fn(np.roll(x, s)), -s) for s in range(shifts)], axis=0)


def skimage_denoisers():
    """scikit-image's BayesShrink (sym8, soft) and its 8-shift cycle spinning, or the same
    recipe written here on PyWavelets when scikit-image is missing."""
    try:
        from skimage.restoration import cycle_spin, denoise_wavelet
    except ImportError:
        return False, {"BayesShrink (pywt)": pywt_bayes,
                       "cycle-spun (pywt)": lambda x: cycle_spun(pywt_bayes, x)}
    options = dict(wavelet="sym8", method="BayesShrink", mode="soft", rescale_sigma=True)
    return True, {
        "scikit-image BayesShrink": lambda x: denoise_wavelet(x, **options),
        "scikit-image cycle-spun": lambda x: cycle_spin(x, denoise_wavelet, max_shifts=7,
                                                        func_kw=options, channel_axis=None)}


def make_signal(name, seconds, rate=16000):
    """A tone, a sweep (linear or logarithmic) or the shipped clean speech."""
    from scipy.signal import chirp

    if name == "speech":
        clean, _ = sf.read(DATA / "speech.wav")
        return clean[: int(seconds * rate)] if seconds else clean
    t = np.arange(int(seconds * rate)) / rate
    if name.startswith("tone"):
        return np.sin(2 * np.pi * float(name[4:]) * t)
    if name == "chirp":
        return chirp(t, 100, t[-1], 7000)
    return chirp(t, 50, t[-1], 7000, method="log")  # "logchirp"


def with_noise(clean, snr, seed):
    rng = np.random.default_rng(seed)
    return clean + rng.standard_normal(clean.size) * np.sqrt(np.mean(clean**2) / 10 ** (snr / 10))


SIGNAL_LABELS = {"tone440": "tone 440 Hz", "tone5000": "tone 5 kHz",
                 "chirp": "sweep 100 Hz-7 kHz", "logchirp": "log sweep 50 Hz-7 kHz",
                 "speech": "speech (data/speech.wav)"}
HARD_GRID = [(name, snr) for name in ["tone1000", "tone3000", "tone5000", "tone7000", "chirp",
                                      "logchirp"] for snr in (0, 20)]


def worst_gain(denoiser, seconds):
    """The smallest SNR gain (dB) of ``denoiser`` over tones and sweeps at 0 and 20 dB."""
    gains = []
    for i, (name, snr) in enumerate(HARD_GRID):
        clean = make_signal(name, seconds)
        noisy = with_noise(clean, snr, 100 + i)
        gains.append(snr_db(clean, denoiser(noisy)) - snr_db(clean, noisy))
    return min(gains)


def denoise_section(smoke: bool) -> str:
    return "\n\n".join([speech_table(smoke), grid_table(smoke), latency_table(smoke),
                        running_table(smoke), alignment_table(smoke)])


def speech_table(smoke: bool) -> str:
    clean, rate = sf.read(DATA / "speech.wav")
    noisy, _ = sf.read(DATA / "speech_noisy.wav")
    if smoke:
        clean, noisy = clean[: 2 * rate], noisy[: 2 * rate]
    rows = [["input (noisy)", "-", f"{snr_db(clean, noisy):.2f}", "-"]]

    def add(name, latency, fn):
        start = time.perf_counter()
        y = fn()
        rows.append([name, latency, f"{snr_db(clean, y):.2f}",
                     f"{time.perf_counter() - start:.2f}"])

    skimage, others = skimage_denoisers()
    for name, fn in others.items():
        add(name, "offline", lambda fn=fn: fn(noisy))
    add("wavedil denoise (default: sym8, 10 levels, bayes)", "offline", lambda: denoise(noisy))
    add("wavedil denoise, threshold='sure'", "offline",
        lambda: denoise(noisy, threshold="sure"))
    add("wavedil denoise, starlet, bayes", "offline", lambda: denoise(noisy, "starlet"))
    streams = [("sym8", 5, "bayes"), ("sym8", 5, "sure"), ("starlet", 6, "bayes"),
               ("haar", 6, "bayes"), ("db4", 6, "bayes"), ("sym8", 8, "bayes")]
    for wavelet, levels, threshold in streams:
        stream = DenoiseStream(wavelet, levels, threshold=threshold)
        label = "default: " if (wavelet, levels, threshold) == ("sym8", 5, "bayes") else ""
        add(f"DenoiseStream {label}{wavelet}, {levels} levels, {threshold}", stream.latency,
            lambda stream=stream: _stream(stream, noisy))
    note = ("scikit-image installed: its rows are measured here." if skimage else
            "scikit-image is not installed: the pywt rows implement its recipe.")
    return "\n".join([f"### Denoising speech in white noise ({noisy.size / rate:.1f} s at "
                      f"{rate} Hz, data/)", "",
                      md_table(["method", "latency (samples)", "output SNR (dB)", "seconds"],
                               rows), "",
                      f"Target: the offline à trous denoiser at least matches the cycle-spun "
                      f"BayesShrink, the default stream is within 1 dB of it. {note} The "
                      f"streams are fed 256-sample chunks and estimate sigma as they go "
                      f"(nothing is thresholded before the first estimate, one hop (512 "
                      f"samples) in)."])


def grid_table(smoke: bool) -> str:
    seconds = 0.5 if smoke else 2.0
    snrs = (0, 20) if smoke else (0, 5, 10, 20)
    names = ["tone440", "chirp", "speech"] if smoke else list(SIGNAL_LABELS)
    skimage, others = skimage_denoisers()
    methods = {"Denoiser() default": lambda x: Denoiser()(x),
               "denoise default": lambda x: denoise(x), **others}
    rows = []
    for i, name in enumerate(names):
        clean = make_signal(name, seconds if name != "speech" or smoke else None)
        for snr in snrs:
            noisy = with_noise(clean, snr, 10 * i + snr)
            rows.append([SIGNAL_LABELS[name], f"{snr_db(clean, noisy):.1f}"]
                        + [f"{snr_db(clean, fn(noisy)):.2f}" for fn in methods.values()])
    return "\n".join([
        "### Denoisers on tones, sweeps and speech in white noise (16 kHz)", "",
        md_table(["signal", "input SNR (dB)"] + [f"{m} (dB)" for m in methods], rows), "",
        f"Output SNR against the clean signal; tones and sweeps {seconds:g} s, the speech "
        f"{f'{seconds:g} s' if smoke else 'whole'}, fresh noise per row. `Denoiser()` "
        f"(sym8, 5 levels, latency {Denoiser().latency} samples, running statistics) is the "
        f"default stream, `denoise default` is `wavedil.denoise` (sym8, 10 levels, whole-signal "
        f"statistics); scikit-image's are offline (decimated sym8, BayesShrink"
        f"{'' if skimage else ', pywt re-implementation'}). The 5 kHz tone and the sweeps "
        f"reach the finest level, where the usual noise estimate (its MAD) measures the "
        f"signal: scikit-image's BayesShrink loses them."])


LATENCY_ROWS = [("starlet", 5), ("starlet", 6), ("starlet", 8), ("haar", 6), ("haar", 8),
                ("db2", 6), ("sym4", 5), ("sym4", 6), ("db4", 6), ("coif2", 5), ("sym8", 4),
                ("sym8", 5), ("sym8", 6), ("sym8", 7), ("sym8", 10)]


def latency_table(smoke: bool) -> str:
    clean, rate = sf.read(DATA / "speech.wav")
    noisy, _ = sf.read(DATA / "speech_noisy.wav")
    seconds = 0.5 if smoke else 1.0
    if smoke:
        clean, noisy = clean[: 2 * rate], noisy[: 2 * rate]
    rows = []
    for wavelet, levels in [("starlet", 5), ("sym8", 5)] if smoke else LATENCY_ROWS:
        op = Denoiser(wavelet, levels)
        rows.append([wavelet, levels, op.latency, f"{1000 * op.latency / rate:.1f}",
                     f"{snr_db(clean, op(noisy)):.2f}",
                     f"{snr_db(clean, denoise(noisy, wavelet, levels)):.2f}",
                     f"{worst_gain(op, seconds):+.2f}"])
    return "\n".join([
        "### The live denoiser: latency against quality", "",
        md_table(["wavelet", "levels", "latency (samples)", f"ms at {rate} Hz",
                  "stream SNR on the speech (dB)", "offline, same bank (dB)",
                  "worst gain, tones and sweeps (dB)"], rows), "",
        f"`Denoiser(wavelet, levels)` on data/speech_noisy.wav ({snr_db(clean, noisy):.2f} dB "
        f"in); the offline column is `denoise` with the same bank and levels. An SWT bank "
        f"lags (K-1)(2^J-1) samples, the centred starlet 2(2^J-1). Worst gain: the smallest "
        f"SNR gain over tones at 1, 3, 5 and 7 kHz and two sweeps, each at 0 and 20 dB input "
        f"SNR ({seconds:g} s): a negative figure means the denoiser made a signal worse. The "
        f"short filters (haar, db2, starlet) leak a tone into the neighbouring levels, every "
        f"level then holds signal and the noise estimate has no clean level left."])


def running_table(smoke: bool) -> str:
    clean, rate = sf.read(DATA / "speech.wav")
    noisy, _ = sf.read(DATA / "speech_noisy.wav")
    seconds = 0.5 if smoke else 1.0
    if smoke:
        clean, noisy = clean[: 2 * rate], noisy[: 2 * rate]
        settings = [(8192, 512), (8192, 128)]
    else:
        settings = [(8192, 128), (8192, 256), (8192, 512), (8192, 1024), (8192, 2048),
                    (2048, 512), (4096, 512), (16384, 512)]
    rows = []
    for window, hop in settings:
        op = Denoiser(window=window, hop=hop)
        rows.append([window, hop, f"{snr_db(clean, op(noisy)):.2f}",
                     f"{worst_gain(op, seconds):+.2f}"])
    return "\n".join([
        "### The live denoiser's running statistics (sym8, 5 levels)", "",
        md_table(["window", "hop", "SNR on the speech (dB)",
                  "worst gain, tones and sweeps (dB)"], rows), "",
        "sigma and the BayesShrink variances come from the last `window` coefficients, "
        "renewed every `hop`; the first estimate comes `hop` samples in, and until then "
        "nothing is thresholded (the input passes through, delayed). An earlier first "
        "estimate has too few coefficients to use any level but the finest for sigma, which a "
        "high tone fools (the hop-128 row)."])


def alignment_table(smoke: bool) -> str:
    clean, rate = sf.read(DATA / "speech.wav")
    noisy, _ = sf.read(DATA / "speech_noisy.wav")
    if smoke:
        clean, noisy = clean[: 2 * rate], noisy[: 2 * rate]
    tone = make_signal("tone440", 2.0)
    tone_noisy = with_noise(tone, 17.0, 7)
    rows = []
    for wavelet in ["sym8", "starlet"]:
        for alignment in ["causal", "centered", "pywt"]:
            for boundary in ["symmetric", "zero"]:
                cells = [f"{snr_db(c, _offline(n, wavelet, alignment, boundary)):.2f}"
                         for c, n in [(clean, noisy), (tone, tone_noisy)]]
                rows.append([wavelet, alignment, boundary] + cells)
    return "\n".join([
        "### Offline: alignment and boundary", "",
        md_table(["wavelet", "alignment", "boundary",
                  f"speech, {snr_db(clean, noisy):.2f} dB in",
                  f"tone 440 Hz, {snr_db(tone, tone_noisy):.2f} dB in"], rows), "",
        "`denoise(x, wavelet, 10, alignment=..., boundary=...)`, output SNR (dB). The causal "
        "starlet is refused by `denoise` (its details are not band-pass: a lowpass lagging "
        "2^j samples is subtracted at level j); its rows run the same recipe by hand "
        "(`atrous`, `noise_sigma`, BayesShrink, soft, the sum of the components)."])


def _offline(x, wavelet, alignment, boundary, levels=10):
    if not (wavelet == "starlet" and alignment == "causal"):
        return denoise(x, wavelet, levels, alignment=alignment, boundary=boundary)
    r = atrous(x, wavelet, levels, alignment=alignment, boundary=boundary)
    gains = detail_gains(wavelet, levels, alignment)
    lambdas = level_thresholds(r.details, noise_sigma(r.details, gains), gains, "bayes")
    return shrink(r.details, lambdas[:, None]).sum(axis=0) + r.approx


def _stream(stream, x, chunk=256):
    parts = [stream.process(x[i : i + chunk]) for i in range(0, x.size, chunk)]
    return np.concatenate(parts + [stream.flush()])
