"""Neural Amp Modeler models in numpy: ``.nam`` files in, wavedil's streams out.

A NAM WaveNet is a chain of layer arrays. Array ``a`` takes ``x_a`` (the input audio for
the first, the previous array's residual after that) and the condition ``c`` (the input
audio), and per layer ``j``::

    h_0 = rechannel(x_a)                                  # 1x1, no bias
    z_j = conv_j(h_j) + mixin_j(c)                        # dilated causal conv; 1x1, no bias
    p_j = act_j(z_j)                                      # or gated / blended halves
    h_{j+1} = h_j + layer1x1_j(p_j)                       # identity without layer1x1
    head_a = head_rechannel(head_{a-1} + sum_j head1x1_j(p_j))   # causal conv, K taps

The output is ``head(head_scale * head_last)`` (``head``: blocks of activation then
causal conv; none in the common presets). Parameters are named
``arrays.{a}.rechannel``, ``arrays.{a}.layers.{j}.conv`` / ``mixin`` / ``layer1x1`` /
``head1x1``, ``arrays.{a}.head_rechannel``, ``head.{k}`` (``.weight`` in the PyTorch
layout, ``.bias``); ``wavedil.models.nam_format`` reads them from a file.

Before the start the input is silent, as NAM's own model sees it (it pads the input with
``receptive_field - 1`` zeros; the plugin pre-warms on silence): a fresh stream's
histories hold what silence gives each layer (``NAM.silence``), not zeros, so every output
sample equals NAM's. A stream runs the fused time-major chain (``wavedil.engine.fused``:
each dilated conv's products with compiled gathers and its history in the stream's
state) and, for chunks shorter than ``SAMPLE_LOOP``, one compiled pass over every layer
per sample (``wavedil.models.nam_kernel``): the same formulas, kept equal by the tests.

Shape: ``(T,)``, ``(1, T)`` or ``(B, 1, T)`` in, the same layout out (one channel).

>>> import numpy as np
>>> amp = NAM([{"channels": 4, "dilations": [1, 2, 4], "head_size": 1}], head_scale=0.5)
>>> x = np.random.default_rng(0).standard_normal(100)
>>> s = amp.stream()
>>> y = np.concatenate([s.process(x[:33]), s.process(x[33:]), s.flush()])
>>> bool(np.allclose(y, amp(x), rtol=1e-12, atol=1e-12)), amp.receptive_field
(True, 15)
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ..engine.fused import (
    FusedChain,
    FusedConv,
    WinogradProducts,
    compiled_passes,
    pointwise_tm,
    store_product,
)
from ..engine.spec import Branches, Chain
from .base import Model, ModelState, ModelStream, _conv_spec
from .nam_activations import apply, apply_layer
from .nam_format import normalized, read_nam, wavenet_shapes
from .stack import Stack

SAMPLE_LOOP = 16  # chunks shorter than this run the per-sample compiled pass


class NAM(Model):
    """A Neural Amp Modeler WaveNet (module docstring), offline and streaming.

    Args:
        layer_arrays: per array a dict with ``channels`` and ``dilations`` and optionally
            ``input_size``, ``condition_size`` (1), ``bottleneck``, ``kernel_sizes`` (3),
            ``activations`` (``"Tanh"``; one per layer, or one for all: a name, a
            ``{"type": ...}`` dict or ``{"primary", "gating", "secondary"}``),
            ``layer1x1`` (True), ``head1x1`` (0: none, else its width), ``head_size`` (1),
            ``head_kernel_size`` (1), ``head_bias`` (True).
        head: None, or ``{"channels", "activation", "out_channels", "kernel_sizes"}``.
        head_scale: the factor on the last head rechannel's output.
        sample_rate: the rate the model was trained at (None: unknown).
        params: ``{name: array}`` (None: random, ``seed``).

    ``wavedil.load("amp.nam")`` builds one from a file (``load_nam``).
    """

    architecture = "NAM"

    def __init__(self, layer_arrays: list[dict[str, Any]], head: dict[str, Any] | None = None,
                 head_scale: float = 1.0, sample_rate: float | None = None, *,
                 params: dict[str, npt.ArrayLike] | None = None, seed: int | None = 0) -> None:
        config = normalized(layer_arrays, head, head_scale)
        if sample_rate is not None and (isinstance(sample_rate, bool) or not isinstance(
                sample_rate, (int, float)) or not sample_rate > 0):
            raise ValueError(f"sample_rate must be None or a positive number, got "
                             f"{sample_rate!r}")
        config["sample_rate"] = None if sample_rate is None else float(sample_rate)
        super().__init__(config, params, seed)
        self._silence: dict[np.dtype, dict[str, np.ndarray]] = {}

    @property
    def in_channels(self) -> int:
        return 1

    @property
    def out_channels(self) -> int:
        return 1

    @property
    def sample_rate(self) -> float | None:
        """The sample rate the model was trained at (None: the file does not say)."""
        return self.config["sample_rate"]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return wavenet_shapes(self.config)

    def _dilated(self) -> dict[str, tuple[int, int]]:
        convs = {}
        for i, a in enumerate(self.config["layer_arrays"]):
            for j, d in enumerate(a["dilations"]):
                convs[f"arrays.{i}.layers.{j}.conv"] = (d, 1)  # every layer conv, even K=1
            if a["head_kernel_size"] > 1:
                convs[f"arrays.{i}.head_rechannel"] = (1, 1)
        head = self.config["head"]
        for k, taps in enumerate([] if head is None else head["kernel_sizes"]):
            if taps > 1:
                convs[f"head.{k}"] = (1, 1)
        return convs

    @classmethod
    def spec_of(cls, config: dict[str, Any]) -> Chain:
        x_path, head_path = Chain(()), None
        for i, a in enumerate(config["layer_arrays"]):
            p, c, b = f"arrays.{i}.", a["channels"], a["bottleneck"]
            start = Chain((x_path, _conv_spec(p + "rechannel", a["input_size"], c)))
            residual: list[Branches] = []
            prefixes: list[Chain] = [] if head_path is None else [head_path]
            for j, (k, d, act) in enumerate(zip(a["kernel_sizes"], a["dilations"],
                                                a["activations"])):
                q = f"{p}layers.{j}."
                conv = _conv_spec(q + "conv", c, b * (1 if act["gating"] == "none" else 2), k, d)
                term = _conv_spec(q + "head1x1", b, a["head1x1"]) if a["head1x1"] else Chain(())
                prefixes.append(Chain((start, *residual, conv, term)))
                back = _conv_spec(q + "layer1x1", b, c) if a["layer1x1"] else Chain(())
                residual.append(Branches((Chain(()), Chain((conv, back)))))
            head_path = Chain((Branches(tuple(prefixes)), _conv_spec(
                p + "head_rechannel", a["head1x1"] or b, a["head_size"], a["head_kernel_size"])))
            x_path = Chain((start, *residual))
        assert head_path is not None  # a NAM has layer arrays
        parts = [head_path]
        head, width = config["head"], config["layer_arrays"][-1]["head_size"]
        for k, taps in enumerate([] if head is None else head["kernel_sizes"]):
            out = head["out_channels"] if k == len(head["kernel_sizes"]) - 1 else head["channels"]
            parts.append(_conv_spec(f"head.{k}", width, out, taps))
            width = out
        return Chain(tuple(parts))

    def stream(self, batch: int | None = None) -> NAMStream:
        """A fresh stream (latency 0), starting from silence."""
        return NAMStream(self, batch)

    def silence(self, dtype: npt.DTypeLike) -> dict[str, np.ndarray]:
        """What each dilated conv holds after silence: ``{name: (C_in,)}`` in ``dtype``.

        The last sample of each history after ``receptive_field - 1`` zeros fed to a
        stream that starts from zeros (by then every layer has settled: each history
        depends on those zeros only)."""
        dtype = np.dtype(dtype)
        if dtype not in self._silence:
            stream = NAMStream(self, from_silence=False)
            stream.process(np.zeros((1, 1, self.receptive_field - 1), dtype))
            fill = {}
            for key, past in stream.export_state().items():
                name = key[: -len(".history")]
                fill[name] = past[0, :, -1].copy() if past.shape[-1] else \
                    np.zeros(past.shape[1], dtype)
            self._silence[dtype] = fill
        return self._silence[dtype]

    def __repr__(self) -> str:
        c = self.config
        widths = tuple(a["channels"] for a in c["layer_arrays"])
        layers = sum(len(a["dilations"]) for a in c["layer_arrays"])
        return (f"NAM(arrays={len(widths)}, layers={layers}, channels={widths}, "
                f"receptive_field={self.receptive_field}, sample_rate={c['sample_rate']})")


class NAMLinear(Stack):
    """NAM's ``Linear`` architecture: one causal FIR of ``receptive_field`` taps (a
    ``Stack`` of one layer; no bias is a zero bias), with the file's ``sample_rate``."""

    def __init__(self, receptive_field: int, bias: bool = False,
                 sample_rate: float | None = None, *,
                 params: dict[str, npt.ArrayLike] | None = None, seed: int | None = 0) -> None:
        if params is not None:
            params = {"layers.0.weight": params["weight"],
                      "layers.0.bias": params.get("bias", np.zeros(1))}
        super().__init__([{"channels": 1, "kernel_size": receptive_field, "activation": None}],
                         in_channels=1, params=params, seed=seed)
        self.sample_rate = None if sample_rate is None else float(sample_rate)


def load_nam(path: str | os.PathLike[str]) -> NAM | NAMLinear:
    """The numpy model of the ``.nam`` file ``path`` (``wavedil.models.nam_format``); its
    ``info`` attribute holds the file's ``version``, ``sample_rate`` and ``metadata``."""
    architecture, config, params, info = read_nam(path)
    model: NAM | NAMLinear
    if architecture == "Linear":
        model = NAMLinear(**config, sample_rate=info["sample_rate"], params=params)
    else:
        model = NAM(**config, sample_rate=info["sample_rate"], params=params)
    model.info = info  # type: ignore[attr-defined]
    return model


class _Layer(NamedTuple):
    conv: str  # the dilated conv's name
    mix: slice  # its mixin's columns in the stacked mixin projection
    activation: dict[str, Any]
    out: tuple[np.ndarray, np.ndarray] | None  # layer1x1 | head1x1 as one time-major 1x1
    residual: bool  # whether out starts with the layer1x1 (else the residual adds p)
    head: bool  # whether out ends with the head1x1 (else the head term is p)


class _Array(NamedTuple):
    rechannel: np.ndarray  # (C_in, C), no bias
    layers: list[_Layer]
    channels: int
    head: str | tuple[np.ndarray, np.ndarray]  # a fused conv's name or a time-major 1x1


class NAMStream(ModelStream):
    """Stream of a ``NAM``: the fused time-major chain, or the per-sample compiled pass
    for short chunks; histories start from silence (``NAM.silence``)."""

    model: NAM

    def __init__(self, model: NAM, batch: int | None = None, *,
                 from_silence: bool = True) -> None:
        super().__init__(model, batch)
        self._from_silence = from_silence

    def fused(self) -> bool:
        return True

    def new_state(self, batch: int, dtype: np.dtype) -> ModelState:
        self._prepare(dtype)
        chain = self._chain
        assert chain is not None
        if not self._from_silence:
            return ModelState(chain.new_state(batch, dtype))
        fill = self.model.silence(dtype)
        arrays = {f"{name}.history": np.broadcast_to(
            fill[name][None, :, None], (batch, len(fill[name]), conv.span))
            for name, conv in chain.convs.items()}
        return ModelState(chain.load(arrays, batch, dtype))

    def _bind(self, dtype: np.dtype) -> None:
        w, c = self.w, self.model.config
        self._chain = FusedChain({name: FusedConv(conv, dtype)
                                  for name, conv in self.model.dilated_convs.items()})
        self._kernels = compiled_passes()
        arrays, mixins, start = [], [], 0
        for i, a in enumerate(c["layer_arrays"]):
            p, layers = f"arrays.{i}.", []
            for j, act in enumerate(a["activations"]):
                q = f"{p}layers.{j}."
                mixin = w[q + "mixin.weight"]  # (mid, 1)
                mixins.append(mixin[:, 0])
                outs = [n for n in (q + "layer1x1", q + "head1x1") if n + ".weight" in w]
                out = None
                if outs:
                    out = (np.ascontiguousarray(np.concatenate([w[n + ".weight"] for n in outs]).T),
                           np.concatenate([w[n + ".bias"][:, 0] for n in outs]))
                layers.append(_Layer(q + "conv", slice(start, start + len(mixin)), act, out,
                                     a["layer1x1"], bool(a["head1x1"])))
                start += len(mixin)
            head: str | tuple[np.ndarray, np.ndarray] = p + "head_rechannel"
            if head not in self._chain.convs:
                weight = w[p + "head_rechannel.weight"]
                bias = w.get(p + "head_rechannel.bias")
                head = (np.ascontiguousarray(weight.T),
                        np.zeros(len(weight), dtype) if bias is None else bias[:, 0])
            arrays.append(_Array(np.ascontiguousarray(w[p + "rechannel.weight"].T), layers,
                                 a["channels"], head))
        self._arrays = arrays
        self._mix = np.concatenate(mixins)[None, None, :]  # (1, 1, sum of mid)
        self._head_scale = dtype.type(c["head_scale"])
        self._head = []
        for k, taps in enumerate([] if c["head"] is None else c["head"]["kernel_sizes"]):
            name = f"head.{k}"
            self._head.append(name if name in self._chain.convs else
                              (np.ascontiguousarray(w[name + ".weight"].T), w[name + ".bias"][:, 0]))
        self._bound = (None, None, None)  # a new dtype's chain: bind again

    def _make_plan(self, convs: dict, histories: dict, inputs: dict) -> dict[str, tuple]:
        return {name: (conv, histories[name], inputs[name]) for name, conv in convs.items()}

    def _conv(self, plan: dict, name: str, product: np.ndarray, residual: np.ndarray | None,
              mode: int) -> tuple[np.ndarray, np.ndarray]:
        """Store ``product`` (plus ``residual``) as fused conv ``name``'s input; return
        what was stored and the conv's output ``(B, m, C_out)``."""
        kernels = self._kernels
        conv, history, col = plan[name]
        stored = conv.store(kernels, history, product, residual, mode, col)
        out = conv.product(col)
        if isinstance(out, WinogradProducts):
            plain = np.empty(product.shape[:2] + (out.prods.shape[-1],), product.dtype)
            store_product(kernels, out, plain, kernels.COPY, plain, 0)
            out = plain
        return stored, out

    def _run(self, x: np.ndarray, **cond: np.ndarray) -> np.ndarray:
        kernels, (batch, _, m) = self._kernels, x.shape
        plan = self._plan(batch, m, x.dtype)
        audio = np.ascontiguousarray(x).reshape(batch, m, 1)  # one channel: time-major too
        mix = audio * self._mix  # every layer's mixin, (B, m, sum of mid)
        inputs, head = audio, None
        for a in self._arrays:
            product, residual, mode = np.matmul(inputs, a.rechannel), None, kernels.COPY
            acc = None if head is None else head.copy()
            for layer in a.layers:
                residual, z = self._conv(plan, layer.conv, product, residual, mode)
                z += mix[..., layer.mix]
                p = apply_layer(layer.activation, z)
                out = p if layer.out is None else pointwise_tm(layer.out, p)
                product = out[..., : a.channels] if layer.residual else p
                term = out[..., a.channels * layer.residual :] if layer.head else p
                if acc is None:
                    acc = term.copy()
                else:
                    acc += term
                mode = kernels.ADD
            inputs = residual + product  # the array's output (the next array's input)
            assert acc is not None  # an array has layers
            if isinstance(a.head, str):
                head = self._conv(plan, a.head, acc, None, kernels.COPY)[1]
            else:
                head = pointwise_tm(a.head, acc)
        assert head is not None
        y = head * self._head_scale
        activation = None if self.model.config["head"] is None else \
            self.model.config["head"]["activation"]
        for block in self._head:
            assert activation is not None
            y = apply(activation, y)
            if isinstance(block, str):
                y = self._conv(plan, block, y, None, kernels.COPY)[1]
            else:
                y = pointwise_tm(block, y)
        return y.reshape(batch, 1, m)
