"""The effect-training example runs (a few steps) and the shipped model does what its
metadata says: the held-out ESR, recomputed here from torchaudio's effect (the oracle) and
the numpy model, beats the identity baseline and matches the recorded figure."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.functional as AF
from hypothesis import given, settings
from hypothesis import strategies as st

from wavedil.models.loader import load
from wavedil.models.stack import TCN as NumpyTCN

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
torch.set_num_threads(2)


def load_example():
    spec = importlib.util.spec_from_file_location("train_effect",
                                                  ROOT / "examples" / "train_effect.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def esr(target, estimate):
    target, estimate = np.asarray(target, np.float64), np.asarray(estimate, np.float64)
    return np.sum((target - estimate) ** 2) / np.sum(target**2)


def stream_in(model, x, sizes):
    """``x`` through a fresh numpy stream, cut into ``sizes`` (cycled), then flushed."""
    stream, parts, start, i = model.stream(), [], 0, 0
    while start < x.size:
        size = sizes[i % len(sizes)]
        parts.append(stream.process(x[start : start + size]))
        start, i = start + size, i + 1
    parts.append(stream.flush())
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def test_audio():
    audio, rate = sf.read(DATA / "guitar_test.wav", dtype="float32")
    return audio, rate


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("train_effect")
    results = load_example().main(["--quick", "--steps", "3", "--output", str(out / "m.npz"),
                                   "--plot", str(out / "m.png")])
    return results, out


@pytest.mark.slow
def test_quick_training_exports_a_model_whose_numpy_stream_equals_torch(quick_run, test_audio):
    results, out = quick_run
    x, rate = test_audio
    assert len(results["losses"]) == 3 and np.all(np.isfinite(results["losses"]))
    for key in ("esr_test", "esr_identity", "esr_scaled_identity", "esr_numpy_stream"):
        assert np.isfinite(results[key]) and results[key] >= 0
    net = load(out / "m.npz")
    assert isinstance(net, NumpyTCN) and net.receptive_field == results["model"].receptive_field
    with torch.no_grad():  # the oracle: the trained torch model itself
        expected = results["model"](torch.from_numpy(x)[None, None])[0, 0].numpy()
    y = stream_in(net, x, [256, 1, 97, 0, 1031])
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.max(np.abs(y - expected)) <= 1e-5 * np.max(np.abs(expected))
    assert results["max_abs_difference"] <= 1e-5 * np.max(np.abs(expected))
    # the ESR the script reports is the ESR against torchaudio's effect
    target = AF.overdrive(AF.lowpass_biquad(torch.from_numpy(x)[None], rate, 3000.0, 0.707),
                          20.0, 20.0)[0].numpy()
    assert results["esr_test"] == pytest.approx(esr(target, expected), rel=1e-6)
    assert results["esr_identity"] == pytest.approx(esr(target, x), rel=1e-6)
    meta = json.loads((out / "m.json").read_text())
    assert meta["sample_rate"] == rate and meta["steps"] == 3
    assert meta["held_out"]["esr_test"] == pytest.approx(results["esr_test"])
    assert (out / "m.png").read_bytes().startswith(b"\x89PNG")


@pytest.fixture(scope="module")
def shipped():
    meta = json.loads((DATA / "effect_model.json").read_text())
    return load(DATA / "effect_model.npz"), meta


def oracle_effect(x, rate, effect):
    """torchaudio's effect, read from the metadata: biquads get the sample rate."""
    wave = torch.from_numpy(x)[None]
    for step in effect:
        kwargs = {k: v for k, v in step.items() if k != "function"}
        function = getattr(AF, step["function"])
        wave = function(wave, rate, **kwargs) if step["function"].endswith("_biquad") \
            else function(wave, **kwargs)
    return wave[0].numpy()


def test_shipped_model_learned_the_effect_and_matches_its_metadata(shipped, test_audio):
    net, meta = shipped
    x, rate = test_audio
    assert meta["sample_rate"] == rate and meta["model_file"] == "effect_model.npz"
    assert [s["function"] for s in meta["effect"]] == ["lowpass_biquad", "overdrive"]
    assert net.receptive_field == meta["receptive_field"]
    assert sum(p.size for p in net.params.values()) == meta["parameters"]["numpy"]
    target = oracle_effect(x, rate, meta["effect"])
    y = net(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    learned, identity = esr(target, y), esr(target, x)
    gain = np.dot(x, target) / np.dot(x, x)
    assert learned < identity / 10 and learned < esr(target, gain * x) / 10
    assert learned == pytest.approx(meta["held_out"]["esr_test"], rel=0.03)
    assert identity == pytest.approx(meta["held_out"]["esr_identity"], rel=0.03)


def test_the_effect_is_causal(test_audio, shipped):
    """A causal TCN can learn it: the oracle's past does not depend on its future."""
    x, rate = test_audio
    cut = x.copy()
    cut[20000:] = 0
    effect = shipped[1]["effect"]
    np.testing.assert_array_equal(oracle_effect(cut, rate, effect)[:20000],
                                  oracle_effect(x, rate, effect)[:20000])


@settings(max_examples=15)
@given(sizes=st.lists(st.sampled_from([0, 1, 2, 3, 7, 31, 128, 257, 509, 600, 1031]),
                      min_size=1, max_size=6))
def test_shipped_model_streams_like_its_offline_call_for_any_chunking(shipped, sizes):
    net, _ = shipped
    x = np.asarray(sf.read(DATA / "guitar_test.wav", dtype="float32", frames=3000)[0])
    if not any(sizes):
        sizes = sizes + [1]
    expected = net(x)
    y = stream_in(net, x, sizes)
    assert np.max(np.abs(y - expected)) <= 1e-5 * np.max(np.abs(expected))
