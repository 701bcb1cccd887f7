"""Offline denoising: shrinkage, noise gains, threshold rules and the denoiser on speech."""

import math
from pathlib import Path

import numpy as np
import pytest
import pywt
import soundfile as sf
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from wavedil.wavelets.banks import filter_bank, noise_gain
from wavedil.wavelets.denoise import (
    bayes_threshold,
    denoise,
    detail_gains,
    estimate_sigma,
    level_thresholds,
    noise_sigma,
    shrink,
    sure_threshold,
    universal_threshold,
)
from wavedil.wavelets.transform import atrous

DATA = Path(__file__).resolve().parent.parent / "data"


def snr_db(clean, estimate):
    return 10 * np.log10(np.sum(clean**2) / np.sum((estimate - clean) ** 2))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # pywt divides 0 by 0
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@given(mode=st.sampled_from(["soft", "hard", "garrote"]), t=st.floats(0.01, 3),
       seed=st.integers(0, 2**31 - 1), dtype=st.sampled_from([np.float32, np.float64]))
def test_shrink_matches_pywt_threshold(mode, t, seed, dtype):
    w = (np.random.default_rng(seed).standard_normal(50) * 2).astype(dtype)
    w[:3] = [0.0, t, -t]  # zeros and ties
    ours = shrink(w, t, mode)
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours, pywt.threshold(w, dtype(t), mode), rtol=1e-6, atol=1e-6)


def test_shrink_broadcasts_per_level_thresholds():
    w = np.ones((3, 4))
    out = shrink(w, np.array([0.5, 2.0, 0.0])[:, None], "soft")
    np.testing.assert_array_equal(out, [[0.5] * 4, [0.0] * 4, [1.0] * 4])


# -- noise gains and sigma -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["starlet", "linear", "db4", "sym8", "haar"])
def test_detail_gains_equal_noise_gain_in_centred_alignment(name):
    np.testing.assert_allclose(detail_gains(name, 5, "centered"),
                               [noise_gain(name, j) for j in range(1, 6)], rtol=1e-12)
    np.testing.assert_allclose(detail_gains(name, 4, "pywt", norm=True),
                               [noise_gain(name, j, norm=True) for j in range(1, 5)],
                               rtol=1e-12)


def test_causal_starlet_gain_closed_form_and_empirical():
    # w_1[n] = x[n] - (x[n] + 4 x[n-1] + 6 x[n-2] + 4 x[n-3] + x[n-4]) / 16
    assert math.isclose(detail_gains("starlet", 1, "causal")[0],
                        math.sqrt(15**2 + 4**2 + 6**2 + 4**2 + 1) / 16, rel_tol=1e-12)
    x = np.random.default_rng(0).standard_normal(400_000)
    r = atrous(x, "starlet", 4, alignment="causal", boundary="periodic")
    np.testing.assert_allclose(r.details.std(axis=-1), detail_gains("starlet", 4, "causal"),
                               rtol=0.01)


@pytest.mark.parametrize("name,alignment", [("db4", "pywt"), ("starlet", "centered"),
                                            ("starlet", "causal"), ("linear", "causal")])
def test_sigma_estimate_of_white_noise(name, alignment):
    sigma = 0.37
    x = sigma * np.random.default_rng(1).standard_normal((2, 100_000))
    r = atrous(x, name, 1, alignment=alignment)
    gain = detail_gains(name, 1, alignment)[0]
    np.testing.assert_allclose(estimate_sigma(r.details[0], gain), [sigma, sigma], rtol=0.02)


def test_noise_sigma_is_the_smallest_level_estimate_and_ignores_a_high_tone():
    """A 5 kHz tone at 16 kHz fills the finest level: its MAD measures the tone, the
    smallest per-level estimate (over levels with >= 64 2^j coefficients) the noise."""
    sigma, n = 0.1, 32_000
    rng = np.random.default_rng(4)
    x = np.sin(2 * np.pi * 5000 / 16000 * np.arange(n)) + sigma * rng.standard_normal(n)
    r = atrous(x, "sym8", 10, alignment="centered", boundary="periodic")
    gains = detail_gains("sym8", 10)
    per_level = np.median(np.abs(r.details), axis=-1) / 0.6745 / gains
    assert per_level[0] > 5 * sigma  # the finest level alone: the tone
    used = [j for j in range(1, 11) if n >= 64 * 2**j]  # 1..8
    assert float(noise_sigma(r.details, gains)) == pytest.approx(per_level[: len(used)].min())
    assert float(noise_sigma(r.details, gains)) == pytest.approx(sigma, rel=0.1)
    # too few coefficients for any level but the first: the finest level's estimate
    short = r.details[..., :200]
    assert float(noise_sigma(short, gains)) == float(estimate_sigma(short[0], gains[0]))


# -- threshold rules ----------------------------------------------------------------------------

def test_bayes_threshold_formula_and_pure_noise_level():
    w = np.array([3.0, -4.0, 0.0, 5.0])  # mean square 12.5
    assert math.isclose(float(bayes_threshold(w, 2.0)), 4.0 / math.sqrt(12.5 - 4.0))
    assert float(bayes_threshold(w, 10.0)) == 5.0  # no signal left: kill the level


def test_universal_threshold():
    assert math.isclose(float(universal_threshold(2.0, 1000)), 2.0 * math.sqrt(2 * math.log(1000)))


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 60), sigma=st.floats(0.1, 3))
def test_sure_threshold_minimises_the_risk_estimate(seed, n, sigma):
    rng = np.random.default_rng(seed)
    w = sigma * (rng.standard_normal(n) + (rng.random(n) < 0.2) * 5)
    z = np.abs(w / sigma)

    def risk(t):
        return n - 2 * np.sum(z <= t) + np.sum(np.minimum(z, t) ** 2)

    best = min(z, key=risk)  # SURE is minimal at one of the |z| (it grows in between)
    ours = float(sure_threshold(w, sigma)) / sigma
    cap = math.sqrt(2 * math.log(n))
    if best <= cap:
        assert math.isclose(risk(ours), risk(best), rel_tol=1e-9, abs_tol=1e-9)
    else:  # min(t_SURE, t_universal), as Matlab's heursure
        assert math.isclose(ours, cap, rel_tol=1e-12)


def test_level_thresholds_rules_and_errors():
    details = np.random.default_rng(2).standard_normal((3, 2, 100))
    gains = np.array([1.0, 0.5, 0.25])
    k = level_thresholds(details, np.array([1.0, 2.0]), gains, 3.0)
    np.testing.assert_allclose(k, 3.0 * gains[:, None] * [1.0, 2.0])
    assert level_thresholds(details, 1.0, gains, "bayes").shape == (3, 2)
    with pytest.raises(ValueError, match="threshold must be one of.*'median'"):
        level_thresholds(details, 1.0, gains, "median")
    with pytest.raises(ValueError, match="k >= 0; got -1"):
        level_thresholds(details, 1.0, gains, -1.0)


# -- the offline denoiser -----------------------------------------------------------------------

@settings(max_examples=30)
@given(name=st.sampled_from(["starlet", "linear", "haar", "db4", "sym8"]),
       boundary=st.sampled_from(["periodic", "symmetric", "reflect", "zero", "edge"]),
       alignment=st.sampled_from(["causal", "centered", "pywt"]), levels=st.integers(1, 5),
       length=st.integers(1, 200), seed=st.integers(0, 2**31 - 1))
def test_zero_threshold_gives_the_signal_back(name, boundary, alignment, levels, length, seed):
    assume(not (filter_bank(name).difference and alignment == "causal"))  # refused
    x = np.random.default_rng(seed).standard_normal((2, length))
    y = denoise(x, name, levels, threshold=0.0, sigma=1.0, alignment=alignment,
                boundary=boundary)
    np.testing.assert_allclose(y, x, rtol=0, atol=1e-12 * max(1, np.abs(x).max()))


def test_denoising_a_noisy_sine_and_shapes():
    t = np.arange(4096) / 4096
    clean = np.sin(2 * np.pi * 5 * t) + 0.5 * np.sign(np.sin(2 * np.pi * 3 * t))
    noisy = clean + 0.3 * np.random.default_rng(3).standard_normal((2, 4096))
    for threshold in ["bayes", "sure", "universal", 3.0]:
        y = denoise(noisy, threshold=threshold)
        assert y.shape == noisy.shape
        assert snr_db(clean, y) > snr_db(clean, noisy) + 6, threshold
    y32 = denoise(noisy.astype(np.float32).T, axis=0)
    assert y32.dtype == np.float32 and y32.shape == (4096, 2)
    np.testing.assert_allclose(y32.T, denoise(noisy), atol=1e-4)


def test_a_difference_bank_in_causal_alignment_is_refused_and_why():
    """The causal starlet's details are not band-pass: a 440 Hz tone (16 kHz, 17 dB SNR)
    spreads over every level in copies that cancel only in the sum, so no common k of the
    thresholds k sigma_j (true sigma) improves it; the centred starlet's do."""
    t = np.arange(16_000) / 16_000
    clean = np.sin(2 * np.pi * 440 * t)
    noise = 0.1 * np.random.default_rng(6).standard_normal(t.size)
    for k in [0.5, 1.0]:
        shrunk = {}
        for alignment in ["causal", "centered"]:
            r = atrous(clean + noise, "starlet", 5, alignment=alignment, boundary="symmetric")
            lambdas = k * 0.1 * detail_gains("starlet", 5, alignment)
            shrunk[alignment] = shrink(r.details, lambdas[:, None]).sum(axis=0) + r.approx
        before = snr_db(clean, clean + noise)
        assert snr_db(clean, shrunk["causal"]) < before - 0.5 < before + 0.5 < snr_db(
            clean, shrunk["centered"])
    for name in ["starlet", "linear"]:
        with pytest.raises(ValueError, match=f"'{name}'.* not band-pass.*centered"):
            denoise(clean, name, 3, alignment="causal")
    assert denoise(clean, "starlet", 3, alignment="pywt").shape == clean.shape


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="mode must be one of.*'firm'"):
        denoise(np.ones(16), mode="firm")
    with pytest.raises(ValueError, match="threshold must be one of.*'visu'"):
        denoise(np.ones(16), threshold="visu")
    with pytest.raises(ValueError, match="boundary must be one of"):
        denoise(np.ones(16), boundary="wrap")


def test_speech_in_white_noise():
    """The shipped 5 dB SNR speech: the default denoiser gains more than 5.5 dB (the
    benchmark compares it with scikit-image's cycle-spun BayesShrink)."""
    clean, rate = sf.read(DATA / "speech.wav")
    noisy, _ = sf.read(DATA / "speech_noisy.wav")
    assert abs(snr_db(clean, noisy) - 5.0) < 0.01
    assert snr_db(clean, denoise(noisy)) > 10.5
