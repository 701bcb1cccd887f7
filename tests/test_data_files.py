"""The audio shipped in data/ (made by scripts/make_data.sh): format, length, level, SNR."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DATA = Path(__file__).resolve().parent.parent / "data"
RATE = 16000

# name: (shortest, longest duration in seconds)
FILES = {
    "speech.wav": (8.0, 12.0),
    "speech_noisy.wav": (8.0, 12.0),
    "guitar.wav": (7.0, 9.0),
    "guitar_test.wav": (3.0, 5.0),
}
RMS_FLOOR_DBFS = -35.0
MAX_FULL_SCALE_FRACTION = 1e-4  # fewer than 0.01 % of samples at full scale
TOTAL_BYTES_LIMIT = 1_500_000


def read(name):
    x, rate = sf.read(DATA / name, dtype="float64", always_2d=True)
    return x, rate


@pytest.mark.parametrize("name", sorted(FILES))
def test_format(name):
    info = sf.info(DATA / name)
    assert info.format == "WAV"
    assert info.subtype == "PCM_16"
    assert info.samplerate == RATE
    assert info.channels == 1


@pytest.mark.parametrize("name", sorted(FILES))
def test_duration(name):
    x, rate = read(name)
    lo, hi = FILES[name]
    assert lo <= x.shape[0] / rate <= hi


@pytest.mark.parametrize("name", sorted(FILES))
def test_not_silent(name):
    x, _ = read(name)
    rms_dbfs = 20 * np.log10(np.sqrt(np.mean(x**2)))
    assert rms_dbfs > RMS_FLOOR_DBFS


@pytest.mark.parametrize("name", sorted(FILES))
def test_no_clipping(name):
    x, _ = read(name)
    pcm = np.round(x * 32768).astype(np.int64)
    at_full_scale = np.count_nonzero((pcm >= 32767) | (pcm <= -32768))
    assert at_full_scale < MAX_FULL_SCALE_FRACTION * pcm.size


def test_speech_is_not_a_tone():
    # Speech has pauses and a spread spectrum: the short-time level varies a lot, and no
    # single frequency bin holds most of the energy.
    x, rate = read("speech.wav")
    x = x[:, 0]
    frames = x[: x.size // 320 * 320].reshape(-1, 320)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    assert np.percentile(level, 90) - np.percentile(level, 10) > 20
    power = np.abs(np.fft.rfft(x)) ** 2
    assert power.max() / power.sum() < 0.05


def test_noisy_snr_is_5_db():
    clean, _ = read("speech.wav")
    noisy, _ = read("speech_noisy.wav")
    assert clean.shape == noisy.shape
    s, n = clean[:, 0], noisy[:, 0] - clean[:, 0]
    snr_db = 10 * np.log10(np.sum(s**2) / np.sum(n**2))
    assert abs(snr_db - 5.0) <= 0.2


def test_noise_is_white_and_gaussian_like():
    clean, _ = read("speech.wav")
    noisy, _ = read("speech_noisy.wav")
    n = noisy[:, 0] - clean[:, 0]
    n = (n - n.mean()) / n.std()
    # near-zero autocorrelation at small lags, Gaussian kurtosis (3)
    for lag in (1, 2, 5):
        assert abs(np.mean(n[:-lag] * n[lag:])) < 0.02
    assert abs(np.mean(n**4) - 3.0) < 0.1


def test_guitar_train_and_test_differ():
    train, _ = read("guitar.wav")
    test, _ = read("guitar_test.wav")
    head = train[: test.shape[0], 0]
    corr = np.dot(head, test[:, 0]) / (np.linalg.norm(head) * np.linalg.norm(test[:, 0]))
    assert abs(corr) < 0.5


def test_total_size():
    total = sum((DATA / name).stat().st_size for name in FILES)
    assert total < TOTAL_BYTES_LIMIT
