"""Neural Amp Modeler files: wavedil's numpy models against NAM's own outputs.

The oracle is NAM's PyTorch code: ``tests/data/nam/`` holds small ``.nam`` files written by
neural-amp-modeler (0.13.0 for today's format 0.7.0, 0.5.2 for the older 0.5.x format) and
``expected.npz``, what NAM's models output for one input (``scripts/make_nam_fixtures.py``
regenerates them; tests/test_nam_live.py checks them against NAM itself, and the presets
and random architectures too). The streaming contract of ``NAM`` streams is checked with
every other stream (tests/registry.py).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import TOL
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
from wavedil.models.nam import BLOCK_FROM, NAM, SAMPLE_LOOP, NAMLinear, load_nam
from wavedil.models.nam_format import parse_nam

DATA = Path(__file__).resolve().parent / "data" / "nam"
EXPECTED = np.load(DATA / "expected.npz")
FILES = sorted(p.stem for p in DATA.glob("*.nam"))


def close(actual, expected, dtype):
    """Within the contract tolerance of ``dtype``, relative to ``max |expected|``."""
    scale = float(np.max(np.abs(expected)))
    assert scale > 1e-3  # a test signal that reaches the output
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOL[np.dtype(dtype)] * scale)


def file_dict(name):
    return json.loads((DATA / f"{name}.nam").read_text())


def test_the_fixtures_cover_both_formats_and_linear():
    versions = {name: file_dict(name)["version"] for name in FILES}
    assert {v[:3] for v in versions.values()} == {"0.5", "0.7"}
    assert {file_dict(n)["architecture"] for n in FILES} == {"WaveNet", "Linear"}
    assert "head_size" in file_dict("nano_old")["config"]["layers"][0]
    assert "gating_mode" in file_dict("nano")["config"]["layers"][0]


@pytest.mark.parametrize("name", FILES)
def test_offline_equals_nams_model(name):
    model = wavedil.load(DATA / f"{name}.nam")
    x = EXPECTED["input"]
    y = model(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    close(y, EXPECTED[f"{name}.float32"], np.float32)
    if f"{name}.float64" in EXPECTED:  # NAM's model in double precision
        expected = EXPECTED[f"{name}.float64"]
        x64 = x[: len(expected)].astype(np.float64)
        close(model(x64), expected, np.float64)


@pytest.mark.parametrize("name", ["nano", "variety", "gated_old"])
@settings(max_examples=6, deadline=None)
@given(sizes=st.lists(st.integers(1, 700), min_size=1, max_size=5))
def test_a_stream_in_any_chunks_equals_nams_model(name, sizes):
    """Chunks of 1 to 700 samples (the per-sample pass and the fused chain) from silence."""
    model = load_nam(DATA / f"{name}.nam")
    x = EXPECTED["input"][:1800]
    y = wavedil.run_stream(model, x, sizes)
    close(y, EXPECTED[f"{name}.float32"][:1800], np.float32)


@pytest.mark.parametrize("name", FILES)
def test_the_receptive_field_is_nams(name):
    """NAM's receptive field from the file's config: 1 + sum of (K - 1) * dilation over the
    layers, plus the head rechannels' and the head's K - 1."""
    data, model = file_dict(name), wavedil.load(DATA / f"{name}.nam")
    c = data["config"]
    if data["architecture"] == "Linear":
        assert model.receptive_field == c["receptive_field"]
        return
    rf = 1
    for a in c["layers"]:
        kernels = a.get("kernel_sizes", a.get("kernel_size"))
        kernels = kernels if isinstance(kernels, list) else [kernels] * len(a["dilations"])
        rf += sum((k - 1) * d for k, d in zip(kernels, a["dilations"]))
        rf += a.get("head", {"kernel_size": 1})["kernel_size"] - 1
    if c["head"] is not None:
        rf += sum(k - 1 for k in c["head"].get("kernel_sizes", []))
    assert model.receptive_field == rf
    # an impulse after silence moves receptive_field output samples at most (exactly so
    # where the path through every oldest tap is not lost in rounding: short fields)
    x = np.zeros(rf + 20)
    x[5] = 0.5
    moved = np.flatnonzero(np.abs(model(x) - model(np.zeros_like(x))) > 0)
    assert moved[0] == 5 and moved[-1] <= 5 + rf - 1
    assert rf > 100 or moved[-1] == 5 + rf - 1


def test_file_information_and_sample_rate():
    amp = load_nam(DATA / "nano.nam")
    assert isinstance(amp, NAM) and amp.sample_rate == 48000.0
    assert amp.info["version"] == "0.7.0" and amp.info["metadata"]["source"]
    assert load_nam(DATA / "nano_old.nam").sample_rate is None  # 0.5.x files do not say
    linear = load_nam(DATA / "linear.nam")
    assert isinstance(linear, NAMLinear) and linear.sample_rate == 44100.0
    assert "NAM(arrays=2, layers=20, channels=(4, 2), receptive_field=4093" in repr(amp)


def test_load_tells_the_formats_apart_by_content(tmp_path):
    renamed = tmp_path / "amp.json"
    renamed.write_text((DATA / "variety.nam").read_text())
    x = EXPECTED["input"][:300]
    np.testing.assert_array_equal(wavedil.load(renamed)(x), wavedil.load(DATA / "variety.nam")(x))
    saved = wavedil.load(DATA / "variety.nam").save(tmp_path / "amp.npz")  # a wavedil file
    again = wavedil.load(saved)
    assert isinstance(again, NAM)
    np.testing.assert_array_equal(again(x), wavedil.load(renamed)(x))


def test_a_batch_is_each_row_alone():
    model = load_nam(DATA / "variety.nam")
    x = np.stack([EXPECTED["input"][:400], -EXPECTED["input"][100:500]])[:, None]
    y = model(x)
    for row in range(2):
        np.testing.assert_allclose(y[row, 0], model(x[row, 0]), rtol=0, atol=1e-7)


# -- what is refused, by name ------------------------------------------------------------------
def _edit(name, change):
    data = copy.deepcopy(file_dict(name))
    change(data)
    return data


def _set_layer(key, value, name="nano"):
    return lambda d: d["config"]["layers"][0].__setitem__(key, value)


REFUSED = [
    ("nano", lambda d: d.__setitem__("architecture", "LSTM"), "'LSTM' architecture"),
    ("nano", lambda d: d.__setitem__("version", "0.9.0"), "version '0.9.0'"),
    ("nano", _set_layer("conv_pre_film", {"active": True, "shift": True, "groups": 1}),
     "FiLM (conv_pre_film)"),
    ("nano", _set_layer("slimmable", {"method": "slice_channels_uniform", "kwargs": {}}),
     "slimmable"),
    ("nano", _set_layer("packing", {"channels": [2, 2]}), "packed"),
    ("nano", lambda d: d["config"].__setitem__("condition_dsp", {"architecture": "WaveNet"}),
     "condition DSP"),
    ("nano", _set_layer("groups_input", 2), "grouped convolutions (groups_input=2)"),
    ("nano", _set_layer("activation", [{"type": "PReLU"}] * 7), "activation 'PReLU'"),
    ("nano", _set_layer("activation", [{"type": "__import__('os').system('ls')"}] * 7),
     "not supported"),
    ("nano", lambda d: d["weights"].pop(), "needs 842 weights, the file has 841"),
    ("nano", lambda d: d["weights"].append(0.5), "needs 842 weights, the file has 843"),
    ("nano", lambda d: d["weights"].__setitem__(3, "0.5"), "flat list of numbers"),
    ("nano", lambda d: d["weights"].__setitem__(3, float("nan")), "non-finite"),
    ("nano", _set_layer("dilations", [1, 2, 4, 8, 16, 32, 1 << 21]), "integer in [1, 1048576]"),
    ("nano", _set_layer("input_size", 2), "input_size must be 1"),
    ("nano_old", _set_layer("gated", "yes"), "gated must be true or false"),
    ("nano", _set_layer("mystery", 1), "unknown or unsupported keys ['mystery']"),
]


@pytest.mark.parametrize(("name", "change", "message"), REFUSED,
                         ids=[r[2][:30] for r in REFUSED])
def test_unsupported_files_are_refused_by_name(name, change, message):
    with pytest.raises(ValueError, match=None) as error:
        parse_nam(_edit(name, change))
    assert message in str(error.value)


def test_no_allocation_beyond_the_declared_weights():
    """A file that declares huge histories with few weights is refused before anything is
    allocated (here: 1024 channels x 2^20 samples would be 8 GiB)."""
    data = _edit("nano", _set_layer("dilations", [1, 2, 4, 8, 16, 32, 1 << 19]))
    data["config"]["layers"][0]["channels"] = 1024
    data["config"]["layers"][1]["input_size"] = 1024
    with pytest.raises(ValueError, match="histories of"):
        parse_nam(data)


def test_a_file_that_is_not_json_names_itself(tmp_path):
    bad = tmp_path / "broken.nam"
    bad.write_text("{ not json")
    with pytest.raises(ValueError, match="broken.nam: not a .nam file"):
        wavedil.load(bad)


def test_random_nam_models_stream_in_both_precisions():
    amp = NAM([{"channels": 3, "dilations": [1, 2], "kernel_sizes": [2, 3], "head_size": 2,
                "activations": {"primary": "Tanh", "gating": "gated", "secondary": "Sigmoid"}},
               {"channels": 2, "dilations": [4], "head_kernel_size": 2}],
              head={"channels": 2, "activation": "ReLU", "out_channels": 1, "kernel_sizes": [2]},
              seed=3)
    x = np.random.default_rng(0).standard_normal(200)
    for dtype in (np.float32, np.float64):
        y = wavedil.run_stream(amp, x.astype(dtype), [1, 7, 50])
        assert y.dtype == dtype
        close(y, amp(x.astype(dtype)), dtype)


def test_runtimes_alternate_on_one_state():
    """Long chunks (the fused chain) and short ones (the compiled passes) in turn; here a
    bias-less 2-tap head rechannel beside 1-tap layer convs (whose input blocks must not be
    shared: the head's gather would overwrite the layers' column of ones)."""
    amp = NAM([{"channels": 1, "dilations": [1, 1], "kernel_sizes": [1, 1], "layer1x1": False,
                "head_kernel_size": 2, "head_bias": False},
               {"channels": 2, "bottleneck": 1, "dilations": [1, 3], "kernel_sizes": [1, 2]}],
              seed=5)
    x = np.random.default_rng(1).standard_normal(900)
    long = SAMPLE_LOOP  # the fused chain from here on; below BLOCK_FROM, sample by sample
    for sizes in ([40, 1], [1, 33, 2, long], [long + 100], [BLOCK_FROM, BLOCK_FROM - 1, long]):
        close(wavedil.run_stream(amp, x, sizes), amp(x), np.float64)
