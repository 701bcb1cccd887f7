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
sample equals NAM's. Two runtimes serve a stream (``wavedil.models.nam_runtime``): chunks
shorter than ``SAMPLE_LOOP`` run one compiled pass over every layer
(``wavedil.models.nam_kernel``: NAM's layers are narrow, so numpy's per-call costs would
outweigh their arithmetic; sample by sample below ``BLOCK_FROM`` samples, else layer by
layer over the chunk), longer chunks the fused time-major chain of the engine. The
state moves between them when the chunk size crosses over; tests keep them equal.

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
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from ..engine.finite import check_signal
from ..engine.fused import FusedConv
from ..engine.history import History
from ..engine.params import finite_number
from ..engine.spec import Branches, Chain, LayerSpec
from ..engine.stream import single_consumer
from .base import Model, ModelStream, _conv_spec
from .nam_format import normalized, read_nam, wavenet_shapes
from .nam_runtime import FusedRuntime, build_program, load_rings, ring_histories
from .stack import Stack

SAMPLE_LOOP = 256  # chunks shorter than this run a compiled pass, longer the fused chain
BLOCK_FROM = 8  # of those, chunks this long or longer run layer by layer (``run_block``)
_TEN = [1 << i for i in range(10)]
_TAIL = [128, 256, 512, *_TEN[:10]]
# NAM's training presets (Tanh layers of 3 taps, head_scale 0.02): channels of the two
# layer arrays, their dilations, the first array's head width
PRESETS = {"standard": ((16, 8), (_TEN, _TEN), 8), "lite": ((12, 6), (_TEN[:7], _TAIL), 6),
           "feather": ((8, 4), (_TEN[:7], _TAIL), 4), "nano": ((4, 2), (_TEN[:7], _TAIL), 2)}

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
    info: dict[str, Any] = {}  # a file's version, sample_rate and metadata (load_nam)

    def __init__(self, layer_arrays: list[dict[str, Any]], head: dict[str, Any] | None = None,
                 head_scale: float = 1.0, sample_rate: float | None = None, *,
                 params: Mapping[str, npt.ArrayLike] | None = None,
                 seed: int | None = 0) -> None:
        config = normalized(layer_arrays, head, head_scale)
        if sample_rate is not None and not (finite_number(sample_rate) and sample_rate > 0):
            raise ValueError(f"sample_rate must be None or a positive number, got "
                             f"{sample_rate!r}")
        config["sample_rate"] = None if sample_rate is None else float(sample_rate)
        super().__init__(config, params, seed)
        self._silence: dict[np.dtype, NAMState] = {}

    @property
    def in_channels(self) -> int:
        """1: a NAM model takes mono audio ``(B, 1, T)``."""
        return 1

    @property
    def out_channels(self) -> int:
        """1: a NAM model gives mono audio ``(B, 1, T)``."""
        return 1

    @property
    def sample_rate(self) -> float | None:
        """The sample rate the model was trained at (None: the file does not say)."""
        return self.config["sample_rate"]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape (PyTorch layout: conv weights ``(C_out, C_in, K)``)."""
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
        """The spec tree of a NAM WaveNet with this (resolved) ``config``."""
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
        parts: list[Chain | LayerSpec] = [head_path]
        head, width = config["head"], config["layer_arrays"][-1]["head_size"]
        for k, taps in enumerate([] if head is None else head["kernel_sizes"]):
            out = head["out_channels"] if k == len(head["kernel_sizes"]) - 1 else head["channels"]
            parts.append(_conv_spec(f"head.{k}", width, out, taps))
            width = out
        return Chain(tuple(parts))

    @classmethod
    def preset(cls, name: str, seed: int | None = 0,
               sample_rate: float | None = 48000.0) -> NAM:
        """NAM's training preset ``name`` (``PRESETS``: standard, lite, feather, nano) with
        random weights: the architecture of most shared captures.

        >>> NAM.preset("standard").receptive_field
        4093
        """
        if name not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
        (first, second), (d1, d2), head = PRESETS[name]
        arrays = [{"channels": first, "dilations": list(d1), "head_size": head,
                   "head_bias": False},
                  {"input_size": first, "channels": second, "dilations": list(d2)}]
        return cls(arrays, head_scale=0.02, sample_rate=sample_rate, seed=seed)

    def stream(self, batch: int | None = None) -> NAMStream:
        """A fresh stream (latency 0), starting from silence."""
        return NAMStream(self, batch)

    def silence(self, dtype: npt.DTypeLike) -> NAMState:
        """A batch-1 state after silence, in ``dtype``: a stream that starts from zeros fed
        ``receptive_field - 1`` zeros (then every conv's history depends on those zeros
        only, as in NAM's model, which pads its input with as many zeros)."""
        dtype = np.dtype(dtype)
        if dtype not in self._silence:
            stream = NAMStream(self, from_silence=False)
            stream.process(np.zeros((1, 1, self.receptive_field - 1), dtype))
            stream.rings()
            self._silence[dtype] = stream.state
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

    info: dict[str, Any] = {}  # a file's version, sample_rate and metadata (load_nam)

    def __init__(self, receptive_field: int, bias: bool = False,
                 sample_rate: float | None = None, *,
                 params: Mapping[str, npt.ArrayLike] | None = None,
                 seed: int | None = 0) -> None:
        renamed: dict[str, npt.ArrayLike] | None = None
        if params is not None:
            renamed = {"layers.0.weight": params["weight"],
                       "layers.0.bias": params.get("bias", np.zeros(1))}
        super().__init__([{"channels": 1, "kernel_size": receptive_field, "activation": None}],
                         in_channels=1, params=renamed, seed=seed)
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
    model.info = info
    return model


@dataclass
class NAMState:
    """A NAM stream's memory, in the form its last runtime left it: every conv's ring of
    past inputs ``(B, size)`` and the rings' clock (``wavedil.models.nam_kernel``), or the
    fused chain's ``History`` per conv."""

    ring: np.ndarray | None
    time: int
    histories: dict[str, History] | None = None


class NAMStream(ModelStream):
    """Stream of a ``NAM``: chunks shorter than ``SAMPLE_LOOP`` run a compiled pass,
    longer ones the fused chain (``wavedil.models.nam_runtime``); a fresh
    state is the state after silence (``NAM.silence``). States export each conv's history
    as ``{name}.history`` ``(B, C_in, span)``, the engine's layout, whichever runtime ran."""

    model: NAM
    state: NAMState  # type: ignore[assignment]  # not a ModelState: rings or histories

    def __init__(self, model: NAM, batch: int | None = None, *,
                 from_silence: bool = True) -> None:
        super().__init__(model, batch)
        self._from_silence = from_silence

    def fused(self) -> bool:
        return True  # no child conv streams: the runtimes run every conv

    def new_state(self, batch: int, dtype: np.dtype) -> NAMState:  # type: ignore[override]
        self._prepare(dtype)
        if not self._from_silence:
            return NAMState(np.zeros((batch, self._ring_size), dtype), 0)
        silence = self.model.silence(dtype)
        assert silence.ring is not None  # (made by the per-sample pass)
        return NAMState(np.repeat(silence.ring, batch, axis=0), silence.time)

    def _bind(self, dtype: np.dtype) -> None:
        self._kernel = _kernel()
        self._program, self._ring_size, self._rings = build_program(
            self.model, self.w, dtype, self._kernel, SAMPLE_LOOP - 1)
        self._fused_runtime: FusedRuntime | None = None  # built for the first long chunk
        self._scratch = np.zeros((9, 0), dtype)  # the compiled passes' work rows

    @single_consumer
    def process(self, chunk: npt.ArrayLike) -> np.ndarray:
        """``Stream.process``; a 1-D chunk of fewer than ``BLOCK_FROM`` samples in the
        stream's layout, once running on rings, goes straight to the per-sample pass (the
        general path would check and reshape what is known already: at a sample per call,
        that costs as much as a third of the pass)."""
        layout, state = self.layout, self.state
        if (type(chunk) is np.ndarray and layout is not None and chunk.ndim == 1
                and layout.ndim == 1 and chunk.dtype == layout.dtype
                and 0 < chunk.shape[0] < BLOCK_FROM and not self.flushed
                and state is not None and state.ring is not None
                and self._dtype is not None and self._dtype == chunk.dtype
                and self._scratch.shape[1] >= self._program[-1]):
            check_signal(chunk, "chunk")  # the non-finite policy (wavedil.engine.finite)
            m = chunk.shape[0]
            y = np.empty((1, m), chunk.dtype)
            w, acts, layers, arrays_, head, scale, _ = self._program
            self._kernel.run(np.ascontiguousarray(chunk).reshape(1, m), y, w, acts, layers,
                             arrays_, head, scale, state.ring, state.time, self._scratch)
            state.time += m
            return y[0]
        return super().process(chunk)

    def _run(self, x: np.ndarray, **cond: np.ndarray) -> np.ndarray:
        batch, _, m = x.shape
        state = self.state
        if m >= SAMPLE_LOOP:
            runtime = self._fused_runtime
            if runtime is None:
                runtime = self._fused_runtime = FusedRuntime(self.model, self.w, x.dtype)
            if state.histories is None:  # from the rings
                state.histories = runtime.chain.load(self.export_state(), batch, x.dtype)
                state.ring = None
            return runtime.run(state.histories, x)
        ring = self.rings()
        y = np.empty((batch, m), x.dtype)
        w, acts, layers, arrays_, head, scale, width = self._program
        one = m < BLOCK_FROM
        if self._scratch.shape[1] < width * (1 if one else m):  # (longer rows serve too)
            self._scratch = np.zeros((9, width * (1 if one else m)), x.dtype)
        (self._kernel.run if one else self._kernel.run_block)(
            np.ascontiguousarray(x[:, 0]), y, w, acts, layers, arrays_, head, scale, ring,
            state.time, self._scratch)
        state.time += m
        return y.reshape(batch, 1, m)

    def rings(self) -> np.ndarray:
        """The state's rings (moved from the fused chain's histories if needed)."""
        state = self.state
        if state.ring is None:
            arrays = self.export_state()
            batch, dtype = next(iter(arrays.values())).shape[0], self._dtype
            state.ring, state.histories = np.zeros((batch, self._ring_size), dtype), None
            load_rings(state.ring, state.time, self._rings, arrays)
        return state.ring

    def export_state(self) -> dict[str, np.ndarray]:
        state = self.state
        if state is None:
            return {}
        if state.histories is not None:
            return {f"{name}.history": FusedConv.export(history)
                    for name, history in state.histories.items()}
        assert state.ring is not None
        return ring_histories(state.ring, state.time, self._rings)

    def import_state(self, arrays: Mapping[str, Any], batch: int, dtype: np.dtype) -> None:
        state = self.new_state(batch, dtype)  # silence where a history is absent or short
        assert state.ring is not None
        load_rings(state.ring, state.time, self._rings, arrays)
        self.state = state


def _kernel() -> ModuleType:
    """``wavedil.models.nam_kernel`` (numba, imported on first use)."""
    from . import nam_kernel

    return nam_kernel
