"""wavedil against Neural Amp Modeler itself (``neural-amp-modeler``, the ``dev`` extra):
the four training presets and random architectures, written by NAM to ``.nam`` files and
read by ``wavedil.load``, must output what NAM's own PyTorch models output (float32 and
float64), and the committed fixtures must still be NAM's. Slow: importing NAM takes tens of
seconds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import TOL
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
from wavedil.models.nam import NAM
from wavedil.models.nam_format import parse_nam

pytestmark = pytest.mark.slow
torch = pytest.importorskip("torch")
nam_models = pytest.importorskip("nam.models")
nam_wavenet = pytest.importorskip("nam.models.wavenet")

DATA = Path(__file__).resolve().parent / "data" / "nam"
TEN = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
TAIL = [128, 256, 512] + TEN
# NAM's presets as its trainer builds them (layer arrays in NAM's own config format)
PRESETS = {"standard": (16, 8, TEN, TEN), "lite": (12, 6, TEN[:7], TAIL),
           "feather": (8, 4, TEN[:7], TAIL), "nano": (4, 2, TEN[:7], TAIL)}


def nam_array(inputs, channels, head, bias, dilations, **extra):
    return {"input_size": inputs, "condition_size": 1, "channels": channels,
            "kernel_sizes": [3] * len(dilations), "dilations": dilations, "activation": "Tanh",
            "head": {"out_channels": head, "kernel_size": 1, "bias": bias}, **extra}


def nam_file(config, seed):
    """A NAM WaveNet from ``config`` (NAM's format), its ``.nam`` dict and the model."""
    torch.manual_seed(seed)
    model = nam_wavenet.WaveNet.init_from_config({**config, "sample_rate": 48000}).eval()
    data = {"version": "0.7.0", "architecture": "WaveNet", "metadata": {},
            "config": model._export_config(), "weights": model._export_weights().tolist(),
            "sample_rate": 48000}
    return json.loads(json.dumps(data)), model


def nam_output(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def close(actual, expected, dtype):
    scale = float(np.max(np.abs(expected)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOL[np.dtype(dtype)] * scale)


def guitar(n, seed=0):
    t = np.arange(n) / 48000
    rng = np.random.default_rng(seed)
    return (0.5 * np.sin(2 * np.pi * 110 * t) * np.exp(-2 * t)
            + 0.1 * rng.standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_equal_nams_models(tmp_path, preset):
    a, b, d1, d2 = PRESETS[preset]
    config = {"layers_configs": [nam_array(1, a, b, False, d1), nam_array(a, b, 1, True, d2)],
              "head": None, "head_scale": 0.02}
    data, model = nam_file(config, 0)
    path = tmp_path / f"{preset}.nam"
    path.write_text(json.dumps(data))
    amp = wavedil.load(path)
    assert amp.receptive_field == model.receptive_field == 4093
    # wavedil's own preset has NAM's parameter count and architecture
    assert sum(v.size for v in NAM.preset(preset).params.values()) + 1 == len(data["weights"])
    assert NAM.preset(preset).config["layer_arrays"] == amp.config["layer_arrays"]
    x = guitar(6000)
    close(amp(x), nam_output(model, x), np.float32)
    close(wavedil.run_stream(amp, x, [1, 31, 64, 512]), nam_output(model, x), np.float32)
    x64 = x[:4500].astype(np.float64)
    close(amp(x64), nam_output(model.double(), x64), np.float64)


def test_the_fixtures_are_nams_outputs():
    expected = np.load(DATA / "expected.npz")
    x = expected["input"]
    for path in sorted(DATA.glob("*.nam")):
        data = json.loads(path.read_text())
        if data["version"].startswith("0.5"):
            continue  # NAM 0.13 reads only today's format (scripts/make_nam_fixtures.py)
        model = nam_models.init_from_nam(data).eval()
        # torch's conv sums in an order of its own per CPU (AVX2, AVX-512): a few float32
        # roundings, where a wrong weight or layer would be off by far more
        np.testing.assert_allclose(nam_output(model, x), expected[f"{path.stem}.float32"],
                                   rtol=0, atol=16 * np.finfo(np.float32).eps)


ACTIVATIONS = ["Tanh", "ReLU", "Sigmoid", "SiLU", "Hardswish", "Softsign",
               {"name": "LeakyReLU", "negative_slope": 0.3},
               {"name": "Hardtanh", "min_val": -0.5, "max_val": 0.7}]
PAIRS = ["Tanh", "ReLU", "Sigmoid"]


@st.composite
def architectures(draw):
    """Random NAM WaveNets: one or two layer arrays of any kernel sizes, dilations,
    bottlenecks, gated or blended activations, 1x1s, head rechannel taps, and a head."""
    arrays, inputs, head_in = [], 1, None
    for _ in range(draw(st.integers(1, 2))):
        n, ch = draw(st.integers(1, 3)), draw(st.integers(1, 4))
        bottleneck = draw(st.integers(1, 4))
        layer1x1 = draw(st.booleans()) or bottleneck != ch
        head1x1 = draw(st.integers(0, 3))
        term = head1x1 or bottleneck
        if head_in is not None and head_in != term:
            head1x1 = head_in if head_in != bottleneck else 0
        activations = []
        for _ in range(n):
            mode = draw(st.sampled_from(["none", "gated", "blended"]))
            if mode == "none":
                activations.append(draw(st.sampled_from(ACTIVATIONS)))
            else:
                activations.append({"name": "PairMultiply" if mode == "gated" else "PairBlend",
                                    "primary": draw(st.sampled_from(PAIRS)),
                                    "secondary": draw(st.sampled_from(PAIRS))})
        head_out = draw(st.integers(1, 3))
        arrays.append({**nam_array(inputs, ch, head_out, draw(st.booleans()),
                                   draw(st.lists(st.integers(1, 8), min_size=n, max_size=n)),
                                   bottleneck=bottleneck, activation=activations,
                                   layer_1x1_config={"active": layer1x1},
                                   head_1x1_config={"active": bool(head1x1),
                                                    "out_channels": head1x1 or 1}),
                       "kernel_sizes": draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))})
        arrays[-1]["head"]["kernel_size"] = draw(st.integers(1, 3))
        inputs, head_in = ch, head_out
    head = None
    if draw(st.booleans()) or head_in != 1:
        head = {"channels": draw(st.integers(1, 3)), "activation": draw(st.sampled_from(PAIRS)),
                "out_channels": 1, "kernel_sizes": draw(st.lists(st.integers(1, 3), min_size=1,
                                                                 max_size=2))}
    return {"layers_configs": arrays, "head": head,
            "head_scale": draw(st.floats(0.1, 2.0))}


@settings(max_examples=25, deadline=None)
@given(config=architectures(), seed=st.integers(0, 1000))
def test_random_architectures_equal_nams_models(config, seed):
    try:
        data, model = nam_file(config, seed)
    except (ValueError, AssertionError, RuntimeError):
        return  # an architecture NAM itself does not build
    _, parsed, params, _ = parse_nam(data)
    amp = NAM(**parsed, params=params)
    # NAM adds up every array's span, head rechannels included, a bound on the longest path
    assert amp.receptive_field <= model.receptive_field
    x = guitar(400, seed)
    expected = nam_output(model, x)
    if np.max(np.abs(expected)) < 1e-6:
        return  # nothing reaches the output (e.g. ReLU on negative inputs only)
    close(amp(x), expected, np.float32)
    close(wavedil.run_stream(amp, x, [1, 5, 40]), expected, np.float32)
    x64 = x.astype(np.float64)
    close(amp(x64), nam_output(model.double(), x64), np.float64)
