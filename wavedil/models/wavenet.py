"""WaveNet in numpy: gated dilated layers with skips and conditioning, streaming.

After van den Oord et al. (2016): causal ``input_conv``; per layer a dilated conv to
``gate_channels``, plus optional global (per sequence) and local (audio-rate) conditioning
projected by 1x1 convs, ``z = tanh(a) * sigmoid(b)`` on its two halves, 1x1 ``skip`` and
``res`` projections; ``head2(relu(head1(relu(sum of skips))))``. ``wavenet_plan`` (the
dilations) is shared with the torch twin ``wavedil.nn.WaveNet``; the machinery common to
the numpy models is in ``wavedil.models.base``. With causal gate convs of 2 taps or more a
stream runs time-major (``wavedil.engine.fused``, as the TCN's), one ``tanh`` pass per gate.
With an ``alignment`` of lookahead (``wavedil.models.alignment``) the residual, each skip
and the local conditioning wait in delay lines for the convs' lookahead.

Shape: ``(T,)``, ``(C_in, T)`` or ``(B, C_in, T)`` in, the same layout with ``C_out``
channels out; ``global_cond`` ``(C_gc,)`` or ``(B, C_gc)``, ``local_cond`` in the layout of
the input with ``C_lc`` channels.

>>> import numpy as np
>>> net = WaveNet(1, 4, 8, 4, kernel_size=2, dilations=[1, 2, 4], local_cond_channels=2)
>>> x, c = np.ones((1, 50)), np.ones((2, 50))
>>> s = net.stream()
>>> y = np.concatenate([s.process(x[:, :9], local_cond=c[:, :9]),
...                     s.process(x[:, 9:], local_cond=c[:, 9:]), s.flush()], axis=-1)
>>> bool(np.allclose(y, net(x, local_cond=c), rtol=1e-12, atol=0)), net.receptive_field
(True, 9)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from ..engine.checks import positive_int
from ..engine.conv import DilatedConv1d
from ..engine.finite import as_signal
from ..engine.fused import (
    FusedChain,
    FusedConv,
    WinogradProducts,
    compiled_passes,
    pointwise_tm,
    store_product,
    time_major_1x1,
)
from ..engine.spec import Branches, Chain, dilation_schedule
from ..engine.state import ArraySpec
from ..engine.stream import Layout, Stream, single_consumer
from .activations import relu, sigmoid
from .alignment import Alignment, alignment_option, branch_delays, conv_extents
from .base import BLOCK, Model, ModelStream, _conv_spec, _pointwise, check_layers
from .parallel import run_offline


def wavenet_plan(dilations: Sequence[int] | None = None, stacks: int = 1) -> list[int]:
    """WaveNet dilations: ``dilations`` (default ``1, 2, ..., 512``) repeated ``stacks`` times."""
    stacks = positive_int(stacks, "stacks")
    if dilations is None:
        check_layers(10, stacks)
        return dilation_schedule(10, stacks=stacks)
    full = [positive_int(d, "dilation") for d in dilations]
    check_layers(len(full), stacks)
    full *= stacks
    if not full:
        raise ValueError("dilations must list at least one dilation, got an empty list")
    return full


def conv_spans(config: dict[str, Any]) -> dict[str, int]:
    """Each conv's span ``(K - 1) * dilation``, in the alignment's order."""
    k = config["kernel_size"]
    return {"input_conv": config["input_kernel_size"] - 1,
            **{f"layers.{i}.conv": (k - 1) * d for i, d in enumerate(config["dilations"])}}


def wavenet_delays(config: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """``WaveNet.delays`` of a config (the torch twin places its delays by it)."""
    extents = conv_extents(config.get("alignment", "causal"), conv_spans(config))
    layers = len(config["dilations"])
    lags = [extents[f"layers.{i}.conv"][1] for i in range(layers)]
    lags[0] += extents["input_conv"][1]  # layer i's output lags the input by sum(lags[:i+1])
    waits: dict[str, tuple[int, int]] = {}
    for i in range(layers):
        if i < layers - 1:
            waits[f"layers.{i}.res_delay"] = (config["residual_channels"],
                                              extents[f"layers.{i}.conv"][1])
        waits[f"layers.{i}.skip_delay"] = (config["skip_channels"], sum(lags[i + 1:]))
        if config["local_cond_channels"]:
            waits[f"layers.{i}.cond_delay"] = (config["local_cond_channels"], lags[i])
    return branch_delays(waits)


class WaveNet(Model):
    """WaveNet (van den Oord et al. 2016) with optional global and local conditioning.

    Args:
        in_channels, residual_channels, gate_channels (even: tanh half, sigmoid half),
        skip_channels, out_channels (default ``in_channels``): the widths.
        kernel_size: taps of each gated dilated conv; ``input_kernel_size`` (default
            ``kernel_size``) of the causal input conv.
        dilations: one stack (default ``1, 2, ..., 512``), repeated ``stacks`` times.
        global_cond_channels: width of a per-sequence vector ``(B, C_gc)`` (0: none).
        local_cond_channels: width of an audio-rate signal ``(B, C_lc, T)`` (0: none).
        alignment: ``"causal"`` (latency 0), ``"centered"`` or one ``(left, right)`` pair
            per conv (``input_conv``, then ``layers.{i}.conv``).
        params, seed: as for ``TCN``.

    Parameters: ``input_conv``, ``layers.{i}.conv``, ``layers.{i}.global_cond`` and
    ``layers.{i}.local_cond`` (1x1, no bias), ``layers.{i}.skip``, ``layers.{i}.res`` (not
    on the last layer, whose residual output is unused), ``head1``, ``head2``.

    Call ``model(x, global_cond=g, local_cond=c)``; a stream takes the same keywords per
    chunk, with ``local_cond`` covering the chunk's samples. ``g`` is ``(C_gc,)`` or
    ``(B, C_gc)``; ``c`` has the layout of ``x``: ``(C_lc, T)`` or ``(B, C_lc, T)``.
    """

    architecture = "WaveNet"

    def __init__(self, in_channels: int = 1, residual_channels: int = 64,
                 gate_channels: int = 128, skip_channels: int = 64,
                 out_channels: int | None = None, kernel_size: int = 2,
                 dilations: list[int] | None = None, stacks: int = 1,
                 global_cond_channels: int = 0, local_cond_channels: int = 0,
                 input_kernel_size: int | None = None, *, alignment: Alignment = "causal",
                 params: dict[str, npt.ArrayLike] | None = None, seed: int | None = 0) -> None:
        in_channels = positive_int(in_channels, "in_channels")
        gate = positive_int(gate_channels, "gate_channels")
        if gate % 2:
            raise ValueError(f"gate_channels must be even (tanh and sigmoid halves), got {gate}")
        for value, name in ((global_cond_channels, "global_cond_channels"),
                            (local_cond_channels, "local_cond_channels")):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        kernel_size = positive_int(kernel_size, "kernel_size")
        config = {"in_channels": in_channels,
                  "residual_channels": positive_int(residual_channels, "residual_channels"),
                  "gate_channels": gate,
                  "skip_channels": positive_int(skip_channels, "skip_channels"),
                  "out_channels": in_channels if out_channels is None else
                  positive_int(out_channels, "out_channels"),
                  "kernel_size": kernel_size,
                  "input_kernel_size": kernel_size if input_kernel_size is None else
                  positive_int(input_kernel_size, "input_kernel_size"),
                  "dilations": wavenet_plan(dilations, stacks),
                  "global_cond_channels": int(global_cond_channels),
                  "local_cond_channels": int(local_cond_channels)}
        option = alignment_option(alignment, conv_spans(config))
        if option != "causal":
            config["alignment"] = option
        super().__init__(config, params, seed)

    @property
    def out_channels(self) -> int:
        """C_out: the output head's channels."""
        return self.config["out_channels"]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape (PyTorch layout), as in the torch twin
        ``wavedil.nn.WaveNet``."""
        c = self.config
        r, g, s, half = (c["residual_channels"], c["gate_channels"], c["skip_channels"],
                         c["gate_channels"] // 2)
        shapes = {"input_conv.weight": (r, c["in_channels"], c["input_kernel_size"]),
                  "input_conv.bias": (r,)}
        layers = len(c["dilations"])
        for i in range(layers):
            p = f"layers.{i}."
            shapes.update({p + "conv.weight": (g, r, c["kernel_size"]), p + "conv.bias": (g,)})
            if c["global_cond_channels"]:
                shapes[p + "global_cond.weight"] = (g, c["global_cond_channels"], 1)
            if c["local_cond_channels"]:
                shapes[p + "local_cond.weight"] = (g, c["local_cond_channels"], 1)
            shapes.update({p + "skip.weight": (s, half, 1), p + "skip.bias": (s,)})
            if i < layers - 1:
                shapes.update({p + "res.weight": (r, half, 1), p + "res.bias": (r,)})
        shapes.update({"head1.weight": (s, s, 1), "head1.bias": (s,),
                       "head2.weight": (c["out_channels"], s, 1),
                       "head2.bias": (c["out_channels"],)})
        return shapes

    def _dilated(self):
        c = self.config
        convs = {"input_conv": (1, 1)} if c["input_kernel_size"] > 1 else {}
        if c["kernel_size"] > 1:
            convs.update({f"layers.{i}.conv": (d, 1) for i, d in enumerate(c["dilations"])})
        return convs

    @classmethod
    def spec_of(cls, c: dict[str, Any]) -> Chain:
        """The spec tree of a WaveNet with this (resolved) ``config``; the torch twin uses it."""
        r, g, s = c["residual_channels"], c["gate_channels"], c["skip_channels"]
        k = c["kernel_size"]
        extents = conv_extents(c.get("alignment", "causal"), conv_spans(c))
        prefixes: list[Chain] = []
        residual: list[Branches] = []
        for i, d in enumerate(c["dilations"]):
            gate = _conv_spec(f"layers.{i}.conv", r, g, k, d, extent=extents[f"layers.{i}.conv"])
            prefixes.append(Chain(tuple(residual) + (
                gate, _conv_spec(f"layers.{i}.skip", g // 2, s))))
            body = Chain((gate, _conv_spec(f"layers.{i}.res", g // 2, r)))
            residual.append(Branches((Chain(()), body)))
        return Chain((
            _conv_spec("input_conv", c["in_channels"], r, c["input_kernel_size"],
                       extent=extents["input_conv"]),
            Branches(tuple(prefixes)),
            _conv_spec("head1", s, s), _conv_spec("head2", s, c["out_channels"])))

    def __call__(self, x: npt.ArrayLike, global_cond: npt.ArrayLike | None = None,
                 local_cond: npt.ArrayLike | None = None, *,
                 workers: int | None = None) -> np.ndarray:
        """Offline: the whole signal, with its conditioning (see the class docstring);
        ``workers`` as in ``Model.__call__``."""
        return run_offline(self, x, {"global_cond": global_cond, "local_cond": local_cond},
                           workers)

    def delays(self) -> dict[str, tuple[int, int]]:
        """With lookahead: layer ``i``'s residual waits for its gate conv
        (``layers.{i}.res_delay``), its skip for the later layers' (``layers.{i}.skip_delay``),
        the local conditioning for the convs up to layer ``i`` (``layers.{i}.cond_delay``,
        each line after the previous one)."""
        return wavenet_delays(self.config)

    def stream(self, batch: int | None = None) -> WaveNetStream:
        """A fresh stream (latency ``self.latency``); ``process(chunk, global_cond=,
        local_cond=)``."""
        return WaveNetStream(self, batch)

class WaveNetStream(ModelStream):
    """Stream of a numpy ``WaveNet``; conditioning arrives with each chunk."""

    # bound per dtype (_bind): every layer's conditioning projections in one matrix (None:
    # no such conditioning) and the fused runtime's time-major 1x1 convs
    _global_cond: np.ndarray | None
    _local_cond: np.ndarray | None
    _input_tm: tuple[np.ndarray, np.ndarray]
    _heads_tm: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

    def __init__(self, model: WaveNet, batch: int | None = None) -> None:
        super().__init__(model, batch)
        self._layers = len(model.config["dilations"])

    def fused(self) -> bool:
        return self.model.config["kernel_size"] > 1 and not self.latency

    @single_consumer
    def process(self, chunk: npt.ArrayLike, global_cond: npt.ArrayLike | None = None,
                local_cond: npt.ArrayLike | None = None) -> np.ndarray:
        """Feed ``chunk`` and its conditioning; return the output for the chunk."""
        x, layout = self.accept(chunk)
        cond = self._check_cond(x, layout, global_cond, local_cond)
        self.begin(layout)
        if self.latency and "global_cond" in cond:  # the flush computes with it
            self.state.cond["global_cond"] = cond["global_cond"]
        return self.restore(self.step(x, **cond))

    def _probe_step(self, probe: Stream, x: np.ndarray) -> None:
        c = self.model.config
        cond = {"global_cond": np.zeros(c["global_cond_channels"]) if c["global_cond_channels"]
                else None,
                "local_cond": np.zeros((c["local_cond_channels"], x.shape[-1]))
                if c["local_cond_channels"] else None}
        probe.process(x, **cond)

    def _final_cond(self, batch: int) -> dict[str, np.ndarray]:
        c, layout = self.model.config, self.layout
        assert layout is not None
        cond = dict(self.state.cond)
        if c["local_cond_channels"]:
            cond["local_cond"] = np.zeros((batch, c["local_cond_channels"], 0), layout.dtype)
        return cond

    def _cond_spec(self, layout: Layout) -> dict[str, ArraySpec | None]:
        width = self.model.config["global_cond_channels"]
        if not (self.latency and width):
            return {}
        return {"global_cond": ArraySpec((layout.batch, width), layout.dtype, required=False)}

    def check_state(self, arrays: Mapping[str, Any], layout: Layout) -> None:
        super().check_state(arrays, layout)
        fed = any(np.shape(v)[-1] for k, v in arrays.items() if k.endswith("history"))
        if self._cond_spec(layout) and fed and "global_cond" not in arrays:
            raise ValueError("state is missing 'global_cond': a WaveNet stream with lookahead "
                             "keeps the last chunk's global_cond for its flush")

    def _import_cond(self, arrays, batch: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        if "global_cond" not in arrays:
            return {}
        value = np.asarray(arrays["global_cond"])
        want = (batch, self.model.config["global_cond_channels"])
        if not self.latency or value.dtype != dtype or value.shape != want:
            raise ValueError(f"state 'global_cond' must be {dtype} of shape {want} (a stream "
                             f"with lookahead), got {value.dtype} {value.shape}")
        return {"global_cond": value}

    def _check_cond(self, x, layout, global_cond, local_cond) -> dict:
        c, ndim, batch = self.model.config, layout.ndim, layout.batch
        cond = {}
        for value, name, width in ((global_cond, "global_cond", c["global_cond_channels"]),
                                   (local_cond, "local_cond", c["local_cond_channels"])):
            if not width:
                if value is not None:
                    raise ValueError(f"this WaveNet has no {name} (0 channels), got one")
                continue
            if value is None:
                raise ValueError(f"this WaveNet needs {name} with {width} channels, got None")
            v = np.asarray(as_signal(value, name), x.dtype)
            want: tuple[int, ...]
            if name == "global_cond":
                want = (batch, width) if ndim == 3 else (width,)
                if v.shape != want:
                    raise ValueError(f"expected global_cond of shape {want}, got {v.shape}")
                cond[name] = v.reshape(batch, width, 1)
            else:
                want = (batch, width, x.shape[-1]) if ndim == 3 else (width, x.shape[-1])
                if v.shape != want:
                    raise ValueError(f"expected local_cond of shape {want} (the chunk's "
                                     f"{x.shape[-1]} samples), got {v.shape}")
                cond[name] = v.reshape(batch, width, x.shape[-1])
        return cond

    def _bind(self, dtype: np.dtype) -> None:
        ops, layers = self.ops, self._layers
        self._global_cond = self._projections("global_cond")
        self._local_cond = self._projections("local_cond")
        if self.fused():
            return self._bind_fused(dtype)
        self._gated = []  # per layer: the gate conv, and skip + res 1x1 convs as one matmul
        for i in range(layers):
            self._gated.append((ops[f"layers.{i}.conv"], partial(_pointwise, *self._outputs(i))))

    def _projections(self, kind: str) -> np.ndarray | None:
        """Every layer's ``kind`` conditioning projection in one matrix (None: none)."""
        if f"layers.0.{kind}.weight" not in self.w:
            return None
        return np.concatenate([self.w[f"layers.{i}.{kind}.weight"] for i in range(self._layers)])

    def _outputs(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Layer ``i``'s skip and residual 1x1 convs as one: ``(S [+ R], gate / 2)`` weight,
        ``(S [+ R], 1)`` bias (the last layer has no residual output)."""
        w, last = self.w, i == self._layers - 1
        names = [f"layers.{i}.skip"] + ([] if last else [f"layers.{i}.res"])
        return (np.concatenate([w[n + ".weight"] for n in names]),
                np.concatenate([w[n + ".bias"] for n in names]))

    def _bind_fused(self, dtype: np.dtype) -> None:
        """The time-major chain (``wavedil.engine.fused``), with the gate's sigmoid as a tanh.

        ``sigmoid(b) = (1 + tanh(b / 2)) / 2``: the sigmoid half of every gate conv (and of
        the conditioning projections) is stored halved, so one ``tanh`` covers both halves,
        and ``z' = tanh(a) * (1 + tanh(b / 2)) = 2 z``; the skip and residual weights are
        stored halved, so ``(W / 2) z' = W z``. Halving is exact in binary floating point,
        so every value equals the unfolded formula's.
        """

        c, w, p = self.model.config, self.w, self.model.params
        layers, gate_width = self._layers, c["gate_channels"]
        halve = np.ones(gate_width)
        halve[gate_width // 2:] = 0.5  # the sigmoid half, per gate channel
        if c["input_kernel_size"] == 1:
            self._input_tm = _required_1x1(w, "input_conv")

        def fused_convs() -> dict[str, FusedConv]:  # the model keeps them for its streams
            convs = {}
            if c["input_kernel_size"] > 1:
                convs["input_conv"] = FusedConv(self.model.dilated_convs["input_conv"], dtype)
            for i in range(layers):
                gate = DilatedConv1d(p[f"layers.{i}.conv.weight"] * halve[:, None, None],
                                     p[f"layers.{i}.conv.bias"] * halve, c["dilations"][i])
                convs[f"layers.{i}.conv"] = FusedConv(gate, dtype)
            return convs

        self._chain = FusedChain(self.model.shared(("fused", dtype), fused_convs), BLOCK)
        self._cond_tm = {}
        for kind, stacked in (("global_cond", self._global_cond),
                              ("local_cond", self._local_cond)):
            if stacked is not None:  # (layers * gate, C) -> (C, layers * gate), halved
                self._cond_tm[kind] = np.ascontiguousarray(
                    (stacked * np.tile(halve, layers)[:, None].astype(dtype)).T)
        self._layers_tm = []  # per layer: its gate conv's name, skip + res weight and bias
        for i in range(layers):
            weight, bias = self._outputs(i)
            self._layers_tm.append((f"layers.{i}.conv",
                                    np.ascontiguousarray(weight.T * dtype.type(0.5)), bias[:, 0]))
        self._heads_tm = _required_1x1(w, "head1"), _required_1x1(w, "head2")
        self._bound = (None, None, None)  # a new dtype's chain: bind again

    def _make_plan(self, convs: dict, histories: dict, inputs: dict) -> tuple:
        """The input conv (if dilated) and every layer, each with its history and input
        block."""
        first = None
        if "input_conv" in convs:
            first = convs["input_conv"], histories["input_conv"], inputs["input_conv"]
        layers = [(convs[name], histories[name], inputs[name], weight, bias)
                  for name, weight, bias in self._layers_tm]
        return first, layers

    def _run(self, x: np.ndarray, **cond: np.ndarray) -> np.ndarray:
        global_cond, local_cond = cond.get("global_cond"), cond.get("local_cond")
        if self._chain is not None:
            return self._run_fused(x, global_cond, local_cond)
        c, ops = self.model.config, self.ops
        gate_width, skip_width = c["gate_channels"], c["skip_channels"]
        half = gate_width // 2
        h = ops["input_conv"](x)
        projected = None  # every layer's conditioning, (B, layers * gate, m) or (B, ..., 1)
        if global_cond is not None:
            assert self._global_cond is not None  # _check_cond: this WaveNet has one
            projected = np.matmul(self._global_cond, global_cond)
        delayed = local_cond is not None and bool(self.latency)  # projected per layer
        if local_cond is not None and not delayed:
            assert self._local_cond is not None  # _check_cond: this WaveNet has one
            lc = np.matmul(self._local_cond, local_cond)
            projected = lc if projected is None else lc + projected
        skips = None
        for i, (gate, outputs) in enumerate(self._gated):
            a = gate(h)
            rows = slice(i * gate_width, (i + 1) * gate_width)
            if projected is not None:
                a += projected[:, rows]
            if delayed:  # the conditioning waits for the convs' lookahead up to this layer
                assert self._local_cond is not None and local_cond is not None
                local_cond = self.delay(f"layers.{i}.cond_delay", local_cond)
                a += np.matmul(self._local_cond[rows], local_cond)
            z = np.tanh(a[:, :half])
            z *= sigmoid(a[:, half:], out=a[:, half:])
            out = outputs(z)  # (B, skip (+ residual), m)
            skip = self.delay(f"layers.{i}.skip_delay", out[:, :skip_width])
            if skips is None:
                skips = skip
            else:
                skips += skip
            if i < self._layers - 1:
                h = self.delay(f"layers.{i}.res_delay", h)
                h += out[:, skip_width:]
        assert skips is not None  # a WaveNet has layers
        relu(skips)
        y = ops["head1"](skips)
        relu(y)
        return ops["head2"](y)

    def _run_fused(self, x: np.ndarray, global_cond: np.ndarray | None = None,
                   local_cond: np.ndarray | None = None) -> np.ndarray:
        kernels = compiled_passes()  # (a module: kept off the stream, which deep-copies)
        batch, _, m = x.shape
        first, layers = self._plan(batch, m, x.dtype)
        xt = np.ascontiguousarray(x.transpose(0, 2, 1))  # (B, m, C_in), time-major
        if first is not None:
            conv, history, col = first
            conv.store(kernels, history, xt, None, kernels.COPY, col)
            product = _plain(kernels, conv.product(col), batch, m, x.dtype)
        else:
            product = pointwise_tm(self._input_tm, xt)
        cond = None  # every layer's conditioning, (B, m or 1, layers * gate)
        if global_cond is not None:
            cond = np.matmul(global_cond.transpose(0, 2, 1), self._cond_tm["global_cond"])
        if local_cond is not None:
            lc = np.matmul(local_cond.transpose(0, 2, 1), self._cond_tm["local_cond"])
            cond = lc if cond is None else lc + cond
        c = self.model.config
        gate_width, skip_width = c["gate_channels"], c["skip_channels"]
        half = gate_width // 2
        residual, mode, skips = None, kernels.COPY, None
        for i, (conv, history, col, weight, bias) in enumerate(layers):
            h = conv.store(kernels, history, product, residual, mode, col)  # layer's input
            a = _plain(kernels, conv.product(col), batch, m, x.dtype)  # sigmoid half halved
            if cond is not None:
                a += cond[..., i * gate_width : (i + 1) * gate_width]
            np.tanh(a, out=a)
            a[..., half:] += 1
            out = np.matmul(np.multiply(a[..., :half], a[..., half:]), weight)  # z' = 2 z
            out += bias
            if skips is None:
                skips = out[..., :skip_width]
            else:
                skips += out[..., :skip_width]
            product, residual, mode = out[..., skip_width:], h, kernels.ADD  # h + res
        assert skips is not None  # a WaveNet has layers
        relu(skips)
        y = pointwise_tm(self._heads_tm[0], skips)
        relu(y)
        return np.ascontiguousarray(pointwise_tm(self._heads_tm[1], y).transpose(0, 2, 1))

def _required_1x1(w: dict[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """``time_major_1x1`` of a conv every WaveNet has."""
    conv = time_major_1x1(w, name)
    assert conv is not None, name
    return conv


def _plain(kernels, product, batch: int, m: int, dtype) -> np.ndarray:
    """A conv's output as a ``(B, m, C)`` array (Winograd products transformed)."""
    if not isinstance(product, WinogradProducts):
        return product
    out = np.empty((batch, m, product.prods.shape[-1]), dtype)
    store_product(kernels, product, out, kernels.COPY, out, 0)
    return out
