"""ONNX export of a streaming step (wavedil.nn.onnx): onnxruntime, fed chunk by chunk with
the state it returns, equals the numpy model offline (float32 tolerance)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
import onnx  # noqa: E402
import onnxruntime  # noqa: E402
from helpers import TOL  # noqa: E402

import wavedil  # noqa: E402
import wavedil.nn as wnn  # noqa: E402
from wavedil.models.nam import NAMLinear  # noqa: E402

NAM_DATA = Path(__file__).resolve().parent / "data" / "nam"
MODELS = {
    "TCN": lambda: wavedil.TCN(2, [4, 3], kernel_size=3, dilations=[1, 4], out_channels=1,
                               seed=1),
    "WaveNet": lambda: wavedil.WaveNet(1, 6, 8, 5, kernel_size=3, dilations=[1, 2, 4],
                                       input_kernel_size=2, seed=2),
    "Stack": lambda: wavedil.Stack([{"channels": 4, "kernel_size": 3, "dilation": 2},
                                    {"channels": 4, "kernel_size": 2, "dilation": 4,
                                     "groups": 2, "residual": True},
                                    {"channels": 1, "activation": "tanh"}], in_channels=1, seed=3),
    "NAM-variety": lambda: wavedil.load(NAM_DATA / "variety.nam"),
    "NAM-nano": lambda: wavedil.load(NAM_DATA / "nano.nam"),
    "NAMLinear": lambda: NAMLinear(9, bias=True, seed=4),
}


def run_chunks(path, x, chunk):
    """Feed ``x`` ``(B, C, T)`` to the exported step chunk by chunk (T a multiple of
    ``chunk``), zeros as the first state, each next state fed back."""
    session = onnxruntime.InferenceSession(str(path))
    names = [i.name for i in session.get_inputs()]
    states = {i.name: np.zeros(i.shape, np.float32) for i in session.get_inputs()[1:]}
    outputs = []
    for start in range(0, x.shape[-1], chunk):
        result = session.run(None, {"x": x[..., start : start + chunk], **states})
        outputs.append(result[0])
        states = dict(zip(names[1:], result[1:]))
    return np.concatenate(outputs, axis=-1)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_onnxruntime_chunk_by_chunk_equals_offline(tmp_path, name, chunk):
    model = MODELS[name]()
    path = wnn.export_onnx(model, tmp_path / "step.onnx", chunk=chunk, batch=2)
    steps = max(3, 300 // chunk)
    x = 0.5 * np.random.default_rng(chunk).standard_normal(
        (2, model.in_channels, steps * chunk)).astype(np.float32)
    y, expected = run_chunks(path, x, chunk), model(x)
    scale = max(1e-3, float(np.abs(expected).max()))
    np.testing.assert_allclose(y, expected, rtol=0, atol=TOL[np.float32] * scale)


def test_metadata_names_the_state_latency_and_receptive_field(tmp_path):
    model = MODELS["NAM-nano"]()
    path = wnn.export_onnx(model, tmp_path / "amp.onnx", chunk=32)
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta["wavedil.architecture"] == "NAM" and meta["wavedil.chunk"] == "32"
    assert meta["wavedil.latency"] == "0" and meta["wavedil.fresh_state"] == "zeros"
    assert int(meta["wavedil.receptive_field"]) == model.receptive_field == 4093
    assert float(meta["wavedil.sample_rate"]) == 48000.0
    session = onnxruntime.InferenceSession(str(path))
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = {o.name: o.shape for o in session.get_outputs()}
    states = json.loads(meta["wavedil.state"])
    assert len(states) == 20 == len(inputs) - 1 and inputs["x"] == [1, 1, 32]
    for entry in states:  # each conv: (batch, C_in, (K - 1) * dilation), in and out alike
        assert inputs[entry["input"]] == entry["shape"] == outputs[entry["output"]]
    assert states[0]["input"] == "state.arrays.0.layers.0.conv" and states[0]["shape"] == [1, 4, 2]


def test_a_torch_model_exports_as_its_numpy_twin(tmp_path):
    import torch

    torch.manual_seed(0)
    net = wnn.TCN(1, [4, 4], kernel_size=2, out_channels=1)
    path = wnn.export_onnx(net, tmp_path / "tcn.onnx", chunk=5)
    x = np.random.default_rng(1).standard_normal((1, 1, 50)).astype(np.float32)
    np.testing.assert_allclose(run_chunks(path, x, 5), wnn.to_numpy(net)(x), atol=1e-5)


def test_what_the_step_cannot_express_is_refused_by_name(tmp_path):
    conditioned = wavedil.WaveNet(1, 4, 4, 4, dilations=[1, 2], local_cond_channels=2)
    with pytest.raises(ValueError, match="conditioning"):
        wnn.export_onnx(conditioned, tmp_path / "c.onnx", chunk=4)
    with pytest.raises(ValueError, match="chunk"):
        wnn.export_onnx(MODELS["TCN"](), tmp_path / "t.onnx", chunk=0)
    with pytest.raises(TypeError, match="DilatedConv1d"):
        wnn.export_onnx(wavedil.DilatedConv1d(np.ones((1, 1, 2))), tmp_path / "d.onnx", chunk=4)
