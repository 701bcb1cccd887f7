"""The streaming denoiser: chunk invariance, equality with the offline denoiser, latency,
and the defaults: better SNR on every signal of a grid, near the offline denoiser."""

import io
from pathlib import Path

import numpy as np
import pytest
import pywt
import soundfile as sf
from helpers import assert_close, chunk_sizes, state_layout
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import chirp

from wavedil.wavelets.banks import filter_bank
from wavedil.wavelets.denoise import denoise
from wavedil.wavelets.denoise_stream import Denoiser, DenoiseStream

SIZES = chunk_sizes(300, most=6)
BANKS = st.sampled_from([("starlet", "centered"), ("starlet", "pywt"), ("linear", "centered"),
                         ("haar", "causal"), ("db4", "causal"), ("sym4", "causal")])
DATA = Path(__file__).resolve().parent.parent / "data"
RATE = 16_000


def snr_db(clean, estimate):
    return 10 * np.log10(np.sum(clean**2) / np.sum((estimate - clean) ** 2))


def feed(stream, x, sizes):
    parts, start, i = [stream.process(x[..., :0])], 0, 0
    sizes = sizes if any(sizes) else sizes + [1]
    while start < x.shape[-1]:
        parts.append(stream.process(x[..., start : start + sizes[i % len(sizes)]]))
        start += sizes[i % len(sizes)]
        i += 1
    parts.append(stream.flush())
    return np.concatenate(parts, axis=-1)


def noisy_signal(seed, shape, dtype=np.float64):
    rng = np.random.default_rng(seed)
    t = np.arange(shape[-1])
    return (np.sin(t / 9.0) + 0.3 * rng.standard_normal(shape)).astype(dtype)


@settings(max_examples=50)
@given(bank=BANKS, levels=st.integers(1, 4), boundary=st.sampled_from(["zero", "edge"]),
       threshold=st.sampled_from(["bayes", "sure", "universal", 2.0]),
       mode=st.sampled_from(["soft", "hard", "garrote"]), fixed_sigma=st.booleans(),
       layout=st.sampled_from(["1d", "2d", "3d"]), dtype=st.sampled_from([np.float32,
                                                                          np.float64]),
       length=st.integers(0, 600), sizes=SIZES, seed=st.integers(0, 2**31 - 1))
def test_any_chunking_gives_the_one_shot_output(bank, levels, boundary, threshold, mode,
                                                fixed_sigma, layout, dtype, length, sizes, seed):
    name, alignment = bank
    shape = {"1d": (length,), "2d": (2, length), "3d": (2, 1, length)}[layout]
    channels = 2 if layout == "2d" else 1
    x = noisy_signal(seed, shape, dtype)
    op = Denoiser(name, levels, alignment=alignment, boundary=boundary, threshold=threshold,
                  mode=mode, sigma=0.3 if fixed_sigma else None, window=64, hop=16,
                  channels=channels)
    y = feed(op.stream(), x, sizes)
    assert y.shape == shape and y.dtype == dtype
    assert_close(y, op(x), dtype)


@settings(max_examples=40)
@given(bank=BANKS, levels=st.integers(1, 5), boundary=st.sampled_from(["zero", "edge"]),
       k=st.sampled_from([0.0, 1.0, 3.0]), mode=st.sampled_from(["soft", "hard", "garrote"]),
       length=st.integers(1, 500), sizes=SIZES, seed=st.integers(0, 2**31 - 1))
def test_fixed_thresholds_equal_the_offline_denoiser(bank, levels, boundary, k, mode, length,
                                                     sizes, seed):
    """Two code paths: the chain of streams, and the offline transform (for an SWT bank:
    periodic on the signal extended by its boundary)."""
    name, alignment = bank
    x = noisy_signal(seed, (2, length))
    stream = DenoiseStream(name, levels, alignment, boundary, threshold=k, mode=mode,
                           sigma=0.3, channels=2)
    y = feed(stream, x, sizes)
    offline = denoise(x, name, levels, threshold=k, mode=mode, sigma=0.3, alignment=alignment,
                      boundary=boundary)
    assert_close(y, offline)
    if k == 0.0:
        assert_close(y, x)  # nothing thresholded: perfect reconstruction


@pytest.mark.parametrize("name,levels", [("starlet", 6), ("linear", 3), ("haar", 4),
                                         ("db4", 3), ("sym8", 5)])
def test_latency(name, levels):
    """An SWT bank: the synthesis reads (K-1) 2^(j-1) ahead at level j; a difference bank:
    the centred analysis, (K-1)/2 2^(j-1) at level j."""
    stream = DenoiseStream(name, levels)
    k = filter_bank(name).length
    expected = (k - 1) // (2 if filter_bank(name).difference else 1) * (2**levels - 1)
    assert stream.latency == expected
    x = noisy_signal(0, (1000,))
    assert stream.process(x).shape == (1000 - expected,)
    assert stream.flush().shape == (expected,)
    assert DenoiseStream("starlet", 3, "centered").latency == 2 + 4 + 8


def test_the_default_latency_is_that_of_sym8_at_5_levels_under_30_ms_at_16_khz():
    taps = len(pywt.Wavelet("sym8").dec_lo)  # 16
    assert Denoiser().latency == DenoiseStream().latency == (taps - 1) * (2**5 - 1) == 465
    assert 1000 * Denoiser().latency / RATE <= 30


def test_running_thresholds_follow_the_noise():
    """Pure noise with the universal threshold: once the first estimate is in (after
    ``hop`` samples) almost nothing gets through but the approximation's share (1/256)."""
    x = 0.5 * np.random.default_rng(5).standard_normal(20_000)
    y = Denoiser("db4", 8, threshold="universal", window=2048, hop=512)(x)
    assert np.std(y[1024:]) < 0.1 * np.std(x)
    # before the first estimate nothing is thresholded: the starlet passes x through
    y = Denoiser("starlet", 4, threshold="universal", window=2048, hop=512)(x)
    np.testing.assert_allclose(y[:512], x[:512], rtol=0, atol=1e-15)
    assert np.std(y[512:]) < 0.5 * np.std(x)


@given(split=st.integers(0, 400), bank=BANKS, threshold=st.sampled_from(["bayes", 2.0]))
@settings(max_examples=20)
def test_state_dict_round_trip_through_savez(split, bank, threshold):
    name, alignment = bank
    x = noisy_signal(split, (1, 2, 400))
    options = dict(alignment=alignment, boundary="edge", threshold=threshold, window=50, hop=20,
                   channels=2)
    expected = Denoiser(name, 3, **options)(x)
    first = DenoiseStream(name, 3, **options)
    head = first.process(x[..., :split])
    buffer = io.BytesIO()
    np.savez(buffer, **first.state_dict())
    buffer.seek(0)
    second = DenoiseStream(name, 3, **options)
    second.load_state_dict(dict(np.load(buffer)))
    rest = [second.process(x[..., split:]), second.flush()]
    np.testing.assert_array_equal(np.concatenate([head] + rest, -1), expected)


def test_bad_options():
    with pytest.raises(ValueError, match="SWT bank .*'db4'.*causal analysis"):
        DenoiseStream("db4", 3, alignment="centered")
    with pytest.raises(ValueError, match="'starlet'.* not band-pass.*lags 2 \\(2\\^J - 1\\)"):
        DenoiseStream("starlet", 3, alignment="causal")
    with pytest.raises(ValueError, match="'linear'.* not band-pass.*lags 1 \\(2\\^J - 1\\)"):
        Denoiser("linear", 3, alignment="causal")
    with pytest.raises(ValueError, match="mode must be one of"):
        DenoiseStream("starlet", 3, mode="firm")
    with pytest.raises(ValueError, match="threshold must be one of"):
        DenoiseStream("starlet", 3, threshold="visu")
    with pytest.raises(ValueError, match="sigma must be None"):
        DenoiseStream("starlet", 3, sigma=-1.0)
    with pytest.raises(ValueError, match="another configuration"):
        DenoiseStream("starlet", 3).load_state_dict(DenoiseStream("starlet", 4).state_dict())


def test_the_state_keys_and_shapes_stay_those_of_saved_states():
    """Written down from the version before the typed state: saved states must still load."""
    x = np.random.default_rng(0).standard_normal((2, 3, 700)).astype(np.float32)
    f4, i8 = "<f4", "<i8"
    common = {"last": ((2, 3, 1), f4), "thresholds.count": ((), i8),
              "thresholds.history": ((2, 9, 128), f4),
              "thresholds.lambdas": ((2, 3, 3), "<f8")}
    starlet = DenoiseStream("starlet", 3, "centered", hop=64, window=128, channels=3)
    assert state_layout(starlet, x) == common | {
        "forward.count": ((), i8), "forward.level1.history": ((2, 3, 4), f4),
        "forward.level2.history": ((2, 3, 8), f4), "forward.level3.history": ((2, 3, 16), f4),
        "forward.out1.pending": ((2, 3, 12), f4), "forward.out2.pending": ((2, 3, 8), f4)}
    db2 = DenoiseStream("db2", 3, hop=64, window=128, channels=3)
    assert state_layout(db2, x) == common | {
        "forward.count": ((), i8), "forward.level1.history": ((2, 3, 3), f4),
        "forward.level2.history": ((2, 3, 6), f4), "forward.level3.history": ((2, 3, 12), f4),
        "lag1.pending": ((2, 3, 18), f4), "lag2.pending": ((2, 3, 12), f4)} | {
        f"synthesis_{part}{j}.history": ((2, 3, 3 * 2 ** (j - 1)), f4)
        for part in ("lo", "hi") for j in (1, 2, 3)}


def test_reprs_show_the_configuration_and_the_latency():
    assert repr(Denoiser("db4", 4, threshold="sure")) == (
        "Denoiser('db4', levels=4, threshold='sure', latency=105)")
    stream = DenoiseStream("sym4", 3, hop=64)
    assert repr(stream) == ("DenoiseStream('sym4', levels=3, alignment='causal', "
                            "boundary='zero', threshold='bayes', mode='soft', sigma=None, "
                            "latency=49)")
    stream.process(np.ones(10))
    assert repr(stream.state.thresholds) == (
        "RunningThresholds(threshold='bayes', mode='soft', sigma=None, window=8192, hop=64, "
        "levels=3, channels=1)")


# -- the defaults: better SNR on every signal, near the offline denoiser --------------------------

def grid_signal(name: str) -> np.ndarray:
    """1 s at 16 kHz: a tone, a sweep over the band, or a stretch of the shipped speech."""
    t = np.arange(RATE) / RATE
    if name.startswith("tone"):
        return np.sin(2 * np.pi * float(name[4:]) * t)
    if name == "chirp":
        return chirp(t, 100, t[-1], 7000)
    if name == "logchirp":
        return chirp(t, 50, t[-1], 7000, method="log")
    start = int(float(name[6:]) * RATE)
    return sf.read(DATA / "speech.wav")[0][start : start + RATE]


@pytest.mark.parametrize("snr", [0, 5, 10, 20])
@pytest.mark.parametrize("name", ["tone220", "tone1000", "tone3000", "tone5000", "tone7000",
                                  "chirp", "logchirp", "speech0.5", "speech4.5"])
def test_the_default_denoisers_improve_every_signal_of_the_grid(name, snr):
    """Clean plus white noise at 0-20 dB SNR: the default stream raises the SNR by at least
    0.5 dB (tones and sweeps in the finest level included), the offline default raises it
    too (its whole-signal statistics suit a sweep less: +0.3 dB on the 20 dB chirp)."""
    clean = grid_signal(name)
    rng = np.random.default_rng(snr)
    noise = rng.standard_normal(clean.size) * np.sqrt(np.mean(clean**2) / 10 ** (snr / 10))
    noisy = clean + noise
    before = snr_db(clean, noisy)
    assert before == pytest.approx(snr, abs=0.2)
    assert snr_db(clean, Denoiser()(noisy)) > before + 0.5
    assert snr_db(clean, denoise(noisy)) > before


def test_the_default_stream_is_within_1_db_of_the_offline_default_on_the_shipped_speech():
    clean, _ = sf.read(DATA / "speech.wav")
    noisy, _ = sf.read(DATA / "speech_noisy.wav")
    offline, live = snr_db(clean, denoise(noisy)), snr_db(clean, Denoiser()(noisy))
    assert snr_db(clean, noisy) == pytest.approx(5.0, abs=0.01)
    assert offline > 10.5 and live > offline - 1
