"""ONNX export of a model's streaming step, with its state as explicit inputs and outputs.

``export_onnx(model, path, chunk=N)`` writes one step of the model's stream as an ONNX
graph, for a host that runs onnxruntime (a C++ plugin, say): it takes a chunk and the
state, and gives the chunk's output and the next state.

- Inputs: ``x`` ``(batch, C_in, chunk)`` float32, then one ``state.{conv}`` per conv with
  taps, ``(batch, C_in of that conv, span)``, ``span = (K - 1) * dilation``.
- Outputs: ``y`` ``(batch, C_out, chunk)``, then ``next.{conv}`` of the same shapes: feed
  them back as ``state.{conv}`` with the next chunk.
- A fresh stream's state is all zeros (for a NAM model the graph holds what silence leaves
  in each conv, so zeros still mean "after silence", as in ``wavedil.models.nam``).
- Metadata (``metadata_props``): ``wavedil.architecture``, ``wavedil.chunk``,
  ``wavedil.batch``, ``wavedil.latency`` (samples; 0, every model is causal),
  ``wavedil.receptive_field`` (samples), ``wavedil.sample_rate`` (NAM files; empty if
  unknown), ``wavedil.state`` (JSON: per state its input and output names and shape),
  ``wavedil.fresh_state`` (``"zeros"``) and ``wavedil.version``.

Chunk by chunk the exported step equals the numpy model offline (float32 tolerance; the
tests run it with onnxruntime). Models: ``wavedil.TCN``, ``WaveNet``, ``Stack``, ``NAM`` (and
``NAMLinear``), or their ``wavedil.nn`` torch twins. Refused, by name: a WaveNet with
global or local conditioning (no conditioning inputs are exported), a chunk or batch below
1. Each step copies each conv's ``span`` samples (a graph has no ring buffers).
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..engine.checks import positive_int
from ..engine.params import check_budget
from ..models.base import Model
from ..models.nam import NAM
from ..models.stack import TCN, Stack, WaveNet
from ..version import __version__
from .export import to_numpy

OPSET = 17
ACTIVATIONS = {"identity": lambda x: x, "relu": torch.relu, "tanh": torch.tanh,
               "sigmoid": torch.sigmoid, "gelu": F.gelu, "elu": F.elu,
               "leaky_relu": F.leaky_relu}


class _Conv(nn.Module):
    """A causal conv whose past is an explicit state: ``(x, state) -> (y, next state)``;
    ``fill`` (per input channel) is added to the state on the way in and taken off on the
    way out, so a zero state means "after silence" for a NAM model."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    fill: torch.Tensor | None

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None, dilation: int = 1,
                 groups: int = 1, fill: np.ndarray | None = None) -> None:
        super().__init__()
        self.register_buffer("weight", torch.tensor(weight, dtype=torch.float32))
        self.register_buffer("bias", None if bias is None else
                             torch.tensor(bias, dtype=torch.float32))
        self.dilation, self.groups = dilation, groups
        self.span, self.channels = (weight.shape[-1] - 1) * dilation, weight.shape[1] * groups
        self.register_buffer("fill", None if fill is None or not np.any(fill) else
                             torch.tensor(fill, dtype=torch.float32)[None, :, None])

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.fill is not None:
            state = state + self.fill
        full = torch.cat([state, x], dim=-1)
        y = F.conv1d(full, self.weight, self.bias, dilation=self.dilation, groups=self.groups)
        after = full[..., full.shape[-1] - self.span :]
        return y, after if self.fill is None else after - self.fill


def _pointwise(params: dict[str, np.ndarray], name: str, x: torch.Tensor) -> torch.Tensor:
    weight = torch.tensor(params[name + ".weight"], dtype=torch.float32)
    bias = params.get(name + ".bias")
    return F.conv1d(x, weight, None if bias is None else torch.tensor(bias, dtype=torch.float32))


class _Step(nn.Module):
    """One step of a model's stream: ``forward(x, *states) -> (y, *next states)``, the
    states in the order of ``self.convs``."""

    def __init__(self, model: Model, convs: dict[str, _Conv]) -> None:
        super().__init__()
        self.model, self.params = model, model.params
        self.names = [name for name, conv in convs.items() if conv.span]  # the states
        self.shapes = {name: (conv.channels, conv.span) for name, conv in convs.items()}
        self.convs = nn.ModuleDict({name.replace(".", "_"): conv for name, conv in convs.items()})

    def conv(self, name: str, x: torch.Tensor, states: dict, nexts: dict) -> torch.Tensor:
        key = name.replace(".", "_")
        if key not in self.convs:
            return _pointwise(self.params, name, x)
        if name not in states:  # no taps: nothing to remember
            return self.convs[key](x, x[..., :0])[0]
        y, nexts[name] = self.convs[key](x, states[name])
        return y

    def state_shapes(self, batch: int) -> list[tuple[int, int, int]]:
        """The shape of each state, in the order of ``names``."""
        return [(batch, *self.shapes[name]) for name in self.names]

    def forward(self, x: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        nexts: dict[str, torch.Tensor] = {}
        y = self.body(x, dict(zip(self.names, states)), nexts)
        return (y, *(nexts[name] for name in self.names))

    def body(self, x: torch.Tensor, states: dict, nexts: dict) -> torch.Tensor:
        raise NotImplementedError


class _TCNStep(_Step):
    def body(self, x, states, nexts):
        c = self.model.config
        for i in range(len(c["dilations"])):
            h = torch.relu(self.conv(f"blocks.{i}.conv1", x, states, nexts))
            h = torch.relu(self.conv(f"blocks.{i}.conv2", h, states, nexts))
            skip = x if f"blocks.{i}.downsample.weight" not in self.params else \
                _pointwise(self.params, f"blocks.{i}.downsample", x)
            x = torch.relu(h + skip)
        return x if c["out_channels"] is None else _pointwise(self.params, "head", x)


class _WaveNetStep(_Step):
    def body(self, x, states, nexts):
        c = self.model.config
        half, layers = c["gate_channels"] // 2, len(c["dilations"])
        h, skips = self.conv("input_conv", x, states, nexts), None
        for i in range(layers):
            a = self.conv(f"layers.{i}.conv", h, states, nexts)
            z = torch.tanh(a[:, :half]) * torch.sigmoid(a[:, half:])
            s = _pointwise(self.params, f"layers.{i}.skip", z)
            skips = s if skips is None else skips + s
            if i < layers - 1:
                h = h + _pointwise(self.params, f"layers.{i}.res", z)
        assert skips is not None  # a WaveNet has layers
        y = _pointwise(self.params, "head1", torch.relu(skips))
        return _pointwise(self.params, "head2", torch.relu(y))


class _StackStep(_Step):
    def body(self, x, states, nexts):
        for i, layer in enumerate(self.model.config["layers"]):
            h = ACTIVATIONS[layer["activation"]](self.conv(f"layers.{i}", x, states, nexts))
            x = x + h if layer["residual"] else h
        return x


def _nam_activation(spec: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    name = spec["type"]
    if name == "Tanh":
        return torch.tanh(x)
    if name == "Sigmoid":
        return torch.sigmoid(x)
    if name == "ReLU":
        return torch.relu(x)
    if name == "LeakyReLU":
        return F.leaky_relu(x, spec["negative_slope"])
    if name == "Hardtanh":
        return torch.clamp(x, spec["min_val"], spec["max_val"])
    if name == "LeakyHardtanh":
        low, high = spec["min_val"], spec["max_val"]
        x = torch.where(x < low, (x - low) * spec["min_slope"] + low, x)
        return torch.where(x > high, (x - high) * spec["max_slope"] + high, x)
    if name == "SiLU":
        return x * torch.sigmoid(x)
    if name == "Hardswish":
        return x * torch.clamp(x + 3, 0, 6) / 6
    if name == "Softsign":
        return x / (1 + torch.abs(x))
    assert name == "Softsigmoid", name
    return 0.5 * (1 + x / (1 + torch.abs(x)))


class _NAMStep(_Step):
    def body(self, x, states, nexts):
        c, p = self.model.config, self.params
        inputs, head = x, None
        for i, a in enumerate(c["layer_arrays"]):
            h, acc = _pointwise(p, f"arrays.{i}.rechannel", inputs), head
            for j, act in enumerate(a["activations"]):
                q = f"arrays.{i}.layers.{j}."
                z = self.conv(q + "conv", h, states, nexts) + _pointwise(p, q + "mixin", x)
                if act["gating"] == "none":
                    out = _nam_activation(act["primary"], z)
                else:
                    b = a["bottleneck"]
                    first, second = z[:, :b], _nam_activation(act["secondary"], z[:, b:])
                    primary = _nam_activation(act["primary"], first)
                    out = primary * second if act["gating"] == "gated" else \
                        second * primary + (1 - second) * first
                h = h + (_pointwise(p, q + "layer1x1", out) if a["layer1x1"] else out)
                term = _pointwise(p, q + "head1x1", out) if a["head1x1"] else out
                acc = term if acc is None else acc + term
            inputs = h
            assert acc is not None  # an array has layers
            head = self.conv(f"arrays.{i}.head_rechannel", acc, states, nexts)
        y = head * c["head_scale"]
        for k in range(0 if c["head"] is None else len(c["head"]["kernel_sizes"])):
            y = self.conv(f"head.{k}", _nam_activation(c["head"]["activation"], y), states,
                          nexts)
        return y


STEPS = {"TCN": _TCNStep, "WaveNet": _WaveNetStep, "Stack": _StackStep, "NAM": _NAMStep}


def streaming_step(model: Any) -> _Step:
    """The torch module of one step of ``model``'s stream (``export_onnx`` exports it)."""
    if isinstance(model, nn.Module):
        model = to_numpy(model)
    if not isinstance(model, (TCN, WaveNet, Stack, NAM)):
        raise TypeError(f"expected a wavedil TCN, WaveNet, Stack or NAM model (numpy or "
                        f"torch), got {type(model).__name__}")
    c = model.config
    if model.architecture == "WaveNet" and (c["global_cond_channels"] or c["local_cond_channels"]):
        raise ValueError(f"a WaveNet with conditioning (global_cond_channels="
                         f"{c['global_cond_channels']}, local_cond_channels="
                         f"{c['local_cond_channels']}) is not exported: the step has no "
                         f"conditioning inputs")
    silence: dict[str, np.ndarray] = {}
    if isinstance(model, NAM):  # the last sample each conv saw in silence
        stream = model.stream(batch=1)
        stream.process(np.zeros((1, 1, 0), np.float32))
        silence = {key[: -len(".history")]: value[0, :, -1]
                   for key, value in stream.export_state().items() if value.shape[-1]}
    convs = {name: _Conv(layer.weight, layer.bias, layer.dilation, layer.groups,
                         silence.get(name)) for name, layer in model.dilated_convs.items()}
    return STEPS[model.architecture](model, convs).eval()


HELD = 4  # activations of a chunk a traced step holds at once (input, conv, residual)


def export_onnx(model: Any, path: str | os.PathLike[str], chunk: int, batch: int = 1) -> str:
    """Write one streaming step of ``model`` (chunks of ``chunk`` samples, ``batch`` rows)
    to the ONNX file ``path`` (module docstring: names, shapes, metadata); returns it."""
    chunk, batch = positive_int(chunk, "chunk"), positive_int(batch, "batch")
    step = streaming_step(model)
    numpy_model = step.model
    widest = max([numpy_model.in_channels] + [max(conv.in_channels, conv.out_channels)
                                               for conv in numpy_model.dilated_convs.values()])
    check_budget(4.0 * HELD * batch * chunk * widest,
                 f"export_onnx with chunk={chunk} and batch={batch}: the traced step holds "
                 f"about {HELD} activations of ({batch}, {widest}, {chunk}) float32 "
                 f"(its widest layer) at once",
                 "export a step of a shorter chunk (the step runs on any input of that shape)")
    x = torch.zeros(batch, numpy_model.in_channels, chunk)
    states = [torch.zeros(shape) for shape in step.state_shapes(batch)]
    inputs = ["x"] + [f"state.{name}" for name in step.names]
    outputs = ["y"] + [f"next.{name}" for name in step.names]
    path = os.fspath(path)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(step, (x, *states), path, input_names=inputs, output_names=outputs,
                          opset_version=OPSET, dynamo=False)
    import onnx

    graph = onnx.load(path)
    meta = {"wavedil.architecture": numpy_model.architecture, "wavedil.chunk": chunk,
            "wavedil.batch": batch, "wavedil.latency": 0,
            "wavedil.receptive_field": numpy_model.receptive_field,
            "wavedil.sample_rate": getattr(numpy_model, "sample_rate", None) or "",
            "wavedil.state": json.dumps([{"input": i, "output": o, "shape": list(s.shape)}
                                         for i, o, s in zip(inputs[1:], outputs[1:], states)]),
            "wavedil.fresh_state": "zeros", "wavedil.version": __version__}
    for key, value in meta.items():
        graph.metadata_props.add(key=key, value=str(value))
    onnx.save(graph, path)
    return path
