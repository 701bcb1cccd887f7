"""Regenerate the Neural Amp Modeler fixtures in tests/data/nam/ with NAM's own code.

    python scripts/make_nam_fixtures.py             # from the repo root, in the dev venv

Writes small ``.nam`` files made by the ``neural-amp-modeler`` package and what NAM's own
PyTorch models output for one input signal, so the fast tests need neither NAM nor its
40-second import (tests/test_nam_live.py runs NAM itself, marked slow):

- today's format (file version 0.7.0, written by neural-amp-modeler 0.13.0, installed by
  the ``dev`` extra): the ``nano`` and ``feather`` presets, ``variety`` (gated and
  blended activations of several kinds, a bottleneck, ``head1x1``, no ``layer1x1``, per
  layer kernel sizes, a 3-tap head rechannel and a head) and a ``Linear`` model;
- the older format (file version 0.5.1, ``head_size`` / ``head_bias`` / ``gated``),
  written by neural-amp-modeler 0.5.2's own WaveNet (fetched with ``pip download
  --no-deps`` into a temporary folder; only its model module is imported, in a child
  process, since the old package does not import with today's libraries): ``nano``, and
  ``gated`` (gated layers and an old-style head).

``expected.npz`` holds ``input`` (float32, 5000 samples: past the presets' receptive field
of 4093) and for each file ``NAME.float32``, NAM's model as loaded from the file, and for
the files with short receptive fields (``F64``) ``NAME.float64``, the same model in double
precision on the first 1500 samples; each NAM's default offline call (the input padded
with zeros).
Weights are NAM's own random initialisation (``torch.manual_seed``), the conv weights
doubled so that the activations saturate a little.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "nam"
TAIL = [128, 256, 512, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512]  # the presets' second array
SHORT = [1, 2, 4, 8, 16, 32, 64]
PRESETS = {"nano": (4, 2), "feather": (8, 4)}  # (channels of array 1, of array 2)
F64 = ("variety", "linear", "gated_old")  # float64 outputs kept (short receptive fields)
F64_SAMPLES = 1500


def signal() -> np.ndarray:
    """A plucked-string-like test input: decaying partials, a chirp and some noise."""
    rng = np.random.default_rng(20240611)
    t = np.arange(5000) / 48000
    x = 0.6 * np.exp(-3 * t) * np.sin(2 * np.pi * 110 * t) * (1 + 0.5 * np.sin(2 * np.pi * 330 * t))
    x += 0.3 * np.sin(2 * np.pi * (200 + 4000 * t) * t) + 0.05 * rng.standard_normal(len(t))
    return x.astype(np.float32)


def new_array(inp, ch, head, bias, dilations, **extra):
    return {"input_size": inp, "condition_size": 1, "channels": ch,
            "kernel_sizes": [3] * len(dilations), "dilations": dilations, "activation": "Tanh",
            "head": {"out_channels": head, "kernel_size": 1, "bias": bias}, **extra}


def old_array(inp, ch, head, bias, dilations, gated=False):
    return {"input_size": inp, "condition_size": 1, "head_size": head, "channels": ch,
            "kernel_size": 3, "dilations": dilations, "activation": "Tanh", "gated": gated,
            "head_bias": bias}


def double_convs(net) -> None:
    import torch

    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.Conv1d) and module.kernel_size[0] > 1:
                module.weight *= 2


def new_format(x: np.ndarray) -> dict:
    """Files and outputs from neural-amp-modeler 0.13 (today's format)."""
    import torch
    from nam.models import Linear, init_from_nam
    from nam.models.wavenet import WaveNet

    configs = {name: {"layers_configs": [new_array(1, a, b, False, SHORT),
                                         new_array(a, b, 1, True, TAIL)],
                      "head": None, "head_scale": 0.02}
               for name, (a, b) in PRESETS.items()}
    gated = {"name": "PairMultiply", "primary": "Tanh", "secondary": "Sigmoid"}
    blended = {"name": "PairBlend", "primary": "ReLU", "secondary": "Sigmoid"}
    configs["variety"] = {"layers_configs": [
        new_array(1, 6, 3, True, [1, 3, 7], bottleneck=4, kernel_sizes=[2, 3, 1],
                  activation=[gated, {"name": "LeakyReLU", "negative_slope": 0.2}, blended],
                  head_1x1_config={"active": True, "out_channels": 5}),
        {**new_array(6, 3, 1, True, [2, 5], bottleneck=3, activation=["Softsign", "Hardswish"],
                     layer_1x1_config={"active": False}), "kernel_sizes": [3, 2],
         "head": {"out_channels": 2, "kernel_size": 3, "bias": True}}],
        "head": {"channels": 3, "activation": "SiLU", "out_channels": 1, "kernel_sizes": [2, 1]},
        "head_scale": 0.5}
    files, outputs = {}, {}
    for i, (name, config) in enumerate(configs.items()):
        torch.manual_seed(i)
        model = WaveNet.init_from_config({**config, "sample_rate": 48000})
        double_convs(model)
        files[name] = {"version": "0.7.0", "metadata": {"source": "scripts/make_nam_fixtures.py"},
                       "architecture": "WaveNet", "config": model._export_config(),
                       "weights": model._export_weights().tolist(), "sample_rate": 48000}
    torch.manual_seed(9)
    linear = Linear(receptive_field=32, bias=True, sample_rate=44100)
    files["linear"] = {"version": "0.7.0", "metadata": {}, "architecture": "Linear",
                       "config": linear._export_config(),
                       "weights": linear._export_weights().tolist(), "sample_rate": 44100}
    for name, data in files.items():  # NAM's outputs from NAM's reading of the file
        model = init_from_nam(json.loads(json.dumps(data))).eval()
        with torch.no_grad():
            outputs[f"{name}.float32"] = model(torch.from_numpy(x)).numpy()
            outputs[f"{name}.float64"] = model.double()(torch.from_numpy(x).double()).numpy()
    return {"files": files, "outputs": outputs}


OLD_CHILD = """
import json, sys, types
import numpy as np, torch
root = sys.argv[1] + "/nam"
for name, path in (("nam", root), ("nam.models", root + "/models")):
    module = types.ModuleType(name); module.__path__ = [path]; sys.modules[name] = module
base = types.ModuleType("nam.models._base"); base.BaseNet = torch.nn.Module
sys.modules["nam.models._base"] = base  # the old wrapper needs what today's torch lacks
from nam.models.wavenet import _WaveNet
job = json.loads(sys.stdin.read())
x = torch.tensor(job["input"], dtype=torch.float32)
out = {}
for i, (name, config) in enumerate(job["configs"].items()):
    torch.manual_seed(100 + i)
    net = _WaveNet(config["layers_configs"], config.get("head_config"), config["head_scale"])
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv1d) and m.kernel_size[0] > 1:
                m.weight *= 2
    net.eval()
    pad = torch.cat([torch.zeros(net.receptive_field - 1), x])[None, None]
    with torch.no_grad():
        y32 = net(pad)[0, 0].numpy().tolist()
        y64 = net.double()(pad.double())[0, 0].numpy().tolist()
    weights = [float(w) for w in net.float().export_weights()]
    out[name] = {"config": net.export_config(), "weights": weights, "float32": y32,
                 "float64": y64}
print(json.dumps(out))
"""


def old_format(x: np.ndarray) -> dict:
    """Files and outputs from neural-amp-modeler 0.5.2's WaveNet (the older format)."""
    configs = {
        "nano_old": {"layers_configs": [old_array(1, 4, 2, False, SHORT),
                                        old_array(4, 2, 1, True, TAIL)], "head_scale": 0.02},
        "gated_old": {"layers_configs": [old_array(1, 3, 3, True, [1, 2, 4], gated=True),
                                         old_array(3, 3, 2, False, [8, 1], gated=True)],
                      "head_config": {"in_channels": 2, "channels": 3, "activation": "ReLU",
                                      "num_layers": 2, "out_channels": 1},
                      "head_scale": 0.3}}
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", folder,
                        "neural-amp-modeler==0.5.2"], check=True)
        wheel = next(Path(folder).glob("*.whl"))
        subprocess.run([sys.executable, "-m", "zipfile", "-e", str(wheel), folder], check=True)
        job = json.dumps({"input": x.tolist(), "configs": configs})
        done = subprocess.run([sys.executable, "-c", OLD_CHILD, folder], input=job, text=True,
                              capture_output=True, check=True)
    files, outputs = {}, {}
    for name, result in json.loads(done.stdout).items():
        config = result["config"]
        if config["head"] is not None:
            config["head"].pop("in_channels", None)
        files[name] = {"version": "0.5.1", "metadata": {}, "architecture": "WaveNet",
                       "config": config, "weights": result["weights"]}
        outputs[f"{name}.float32"] = np.array(result["float32"], np.float32)
        outputs[f"{name}.float64"] = np.array(result["float64"], np.float64)
    return {"files": files, "outputs": outputs}


def main() -> int:
    x = signal()
    OUT.mkdir(parents=True, exist_ok=True)
    arrays = {"input": x}
    for part in (new_format(x), old_format(x)):
        for name, data in part["files"].items():
            (OUT / f"{name}.nam").write_text(json.dumps(data))
        arrays.update({key: value[:F64_SAMPLES] if key.endswith("64") else value
                       for key, value in part["outputs"].items()
                       if key.endswith("32") or key.split(".")[0] in F64})
    np.savez_compressed(OUT / "expected.npz", **arrays)
    print(f"wrote {sorted(p.name for p in OUT.iterdir())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
