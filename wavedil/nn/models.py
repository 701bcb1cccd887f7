"""TCN, WaveNet and a generic stack in torch: the trainable twins of ``wavedil.models``.

Same architectures, hyperparameters and parameter names as the numpy models (the configs
``tcn_config``/``wavenet_plan``/``stack_plan`` are shared), so ``wavedil.nn.export`` writes a
file ``wavedil.models.loader.load`` turns into the numpy model. Each model has ``.config`` (the
resolved hyperparameters the numpy twin takes), ``.spec`` (its spec tree), ``.latency`` (its
lookahead under its ``alignment``) and streams with ``model.stream(batch)`` (see
``wavedil.nn.layers``); where branches of unequal lookahead meet, a ``Delay`` (its delay
from the numpy twin's ``delays``) lines them up while streaming.

Shape: ``(B, C_in, T)`` in, ``(B, C_out, T)`` out (a TCN with ``input_shape="NLC"``:
``(B, T, C)``, as pytorch-tcn's).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm as _weight_norm

from ..engine.params import check_budget, flag, integer
from ..engine.spec import Chain
from ..models import stack as np_stack
from ..models import tcn as np_tcn
from ..models import wavenet as np_wavenet
from ..models.activations import LEAKY_SLOPE
from ..models.alignment import Alignment, alignment_option
from ..models.base import spec_layers
from ..receptive.field import future_extent, past_extent
from .finite import check_tensor, inside
from .layers import AlignedConv1d, Delay, Streaming

ACTIVATIONS = {
    "identity": lambda x: x,
    "relu": F.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "gelu": F.gelu,
    "elu": F.elu,
    "leaky_relu": lambda x: F.leaky_relu(x, LEAKY_SLOPE),
    "silu": F.silu,
    "selu": F.selu,
}
INPUT_SHAPES = ("NCL", "NLC")


def _check_input(x: torch.Tensor, channels: int, name: str = "x") -> None:
    if x.dim() != 3 or x.shape[1] != channels:
        raise ValueError(f"expected {name} of shape (B, {channels}, T), got {tuple(x.shape)}")
    check_tensor(x, name)  # the non-finite policy


def _short(value, most: int = 6):
    """A config value for a repr: long lists cut to their ends and length."""
    if not isinstance(value, list) or len(value) <= most:
        return value
    if any(isinstance(v, dict) for v in value):
        return f"{len(value)} layers"
    return f"{value[:3]} ... {value[-2:]} ({len(value)})".replace("] ... [", ", ..., ")


def _normed(conv: nn.Module, weight_norm: bool) -> nn.Module:
    return _weight_norm(conv) if flag(weight_norm, "weight_norm") else conv


def _1x1(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 conv that takes no samples too (while streaming with lookahead a chunk may
    not reach it yet; torch's convs refuse empty inputs)."""
    if x.shape[-1]:
        return conv(x)
    return x.new_zeros((x.shape[0], conv.out_channels, 0))  # type: ignore[arg-type]


def _channel_norm(norm: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
    """A ``LayerNorm`` over the channels of each sample of ``(B, C, T)`` (or nothing)."""
    return x if norm is None else norm(x.transpose(1, 2)).transpose(1, 2)


class _Model(Streaming, nn.Module):
    architecture = ""
    numpy_class: Any = None  # the numpy twin's class
    config: dict[str, Any]

    @property
    def spec(self) -> Chain:
        """The spec tree of the audio input path (``wavedil.engine.spec``), as the numpy twin's."""
        return self.numpy_class.spec_of(self.config)

    @property
    def receptive_field(self) -> int:
        """Input samples each output sees: 1 + the past and future extents."""
        spec = self.spec
        return 1 + past_extent(spec) + future_extent(spec)

    @property
    def latency(self) -> int:
        """Samples of lookahead (0 if causal): what a stream holds back."""
        return future_extent(self.spec)

    def _extents(self) -> dict[str, tuple[int, int]]:
        """Every conv's ``(left, right)`` by name, from the spec tree."""
        return {name: (int(layer.left), layer.right)  # type: ignore[arg-type]  # left is set
                for name, layer in spec_layers(self.spec).items()}

    def stream_config(self) -> dict[str, Any]:
        """``{"op": architecture, **config}``, as the numpy twin's stream: states interchange."""
        return {"op": self.architecture, **self.config}

    def __repr__(self) -> str:
        """The configuration, as the numpy twin's; ``nn.Module.__repr__(m)`` prints the tree."""
        short = {k: _short(v) for k, v in self.config.items()}
        return f"{type(self).__name__}({json.dumps(short)})"



class TemporalBlock(nn.Module):
    """``relu(res(x) + dropout(relu(conv2(dropout(relu(conv1(x)))))))``, as in locuslab/TCN.

    Keywords (pytorch-tcn's block): ``activation`` in place of relu; ``norm="layer_norm"``
    after each conv (over channels); ``gate``: conv1 twice as wide and ``glu`` in place of
    its activation; ``alignment``: the two convs' ``(left, right)`` extents (or one
    alignment for both); ``delay``: the residual's wait for the convs' lookahead while
    streaming (``res_delay``, the sum of the convs' ``right``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int,
                 dropout: float = 0.0, weight_norm: bool = True, *, activation: str = "relu",
                 norm: str | None = None, gate: bool = False,
                 alignment: Alignment = "causal", delay: int | None = None) -> None:
        super().__init__()
        self._args = (f"{in_channels}, {out_channels}, kernel_size={kernel_size}, "
                      f"dilation={dilation}, dropout={dropout}, weight_norm={weight_norm}")
        wide = 2 * out_channels if gate else out_channels
        first, second = (alignment, alignment) if isinstance(alignment, str) else \
            ((alignment[0][0], alignment[0][1]), (alignment[1][0], alignment[1][1]))
        conv1 = AlignedConv1d(in_channels, wide, kernel_size, dilation, alignment=first)
        conv2 = AlignedConv1d(out_channels, out_channels, kernel_size, dilation,
                              alignment=second)
        self.conv1, self.conv2 = _normed(conv1, weight_norm), _normed(conv2, weight_norm)
        self.norm1 = nn.LayerNorm(wide) if norm == "layer_norm" else None
        self.norm2 = nn.LayerNorm(out_channels) if norm == "layer_norm" else None
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.downsample = (nn.Conv1d(in_channels, out_channels, 1)
                           if in_channels != out_channels else None)
        self.res_delay = Delay(out_channels, conv1.right + conv2.right if delay is None
                               else delay)
        self.activation, self.gate = activation, gate  # (names: the module pickles)

    def __repr__(self) -> str:
        """The configuration; ``nn.Module.__repr__(m)`` prints the tree."""
        return f"TemporalBlock({self._args})"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, T)`` in, the block's ``(B, C_out, T)`` out (``forward_with_skip(x)[0]``)."""
        return self.forward_with_skip(x)[0]

    def forward_with_skip(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The block's output and its skip (``act(conv2(...))``, before the residual sum)."""
        check_tensor(x)  # (not inside a TCN: it checked its input)
        with inside():
            act = ACTIVATIONS[self.activation]
            h = _channel_norm(self.norm1, self.conv1(x))
            h = self.dropout1(F.glu(h, dim=1) if self.gate else act(h))
            h = self.dropout2(act(_channel_norm(self.norm2, self.conv2(h))))
            residual = x if self.downsample is None else _1x1(self.downsample, x)
            return act(h + self.res_delay(residual)), h


class TCN(_Model):
    """Temporal convolutional network (Bai, Kolter & Koltun 2018) with streaming.

    Args:
        in_channels: input channels.
        channels: one width for every block, or a list of one width per block.
        kernel_size: taps of each dilated conv (two per block).
        dilations: dilations of one stack (default ``1, 2, 4, ...``, one per block); a
            receptive-field planner's list goes here directly.
        stacks: repeats of ``dilations``.
        out_channels: width of an optional 1x1 ``head`` after the last block.
        dropout: dropout after each conv's activation (training only).
        weight_norm: weight-normalise the dilated convs (``torch.nn.utils.parametrizations``).
        alignment, activation, norm, gate, skip_connections, output_activation: as the
            numpy twin ``wavedil.models.tcn.TCN`` (pytorch-tcn's options; lookahead).
        input_shape: ``"NCL"`` (``(B, C, T)``) or ``"NLC"`` (``(B, T, C)``, as pytorch-tcn
            allows) for ``forward``; streams, ``export`` and the numpy twin take time last.

    >>> tcn = TCN(1, 16, kernel_size=3, dilations=[1, 2, 4, 8], out_channels=1)
    >>> tcn.receptive_field, tuple(tcn(torch.zeros(2, 1, 100)).shape)
    (61, (2, 1, 100))
    >>> TCN(1, 16, kernel_size=3, dilations=[1, 2, 4, 8], alignment="centered").latency
    30
    """

    architecture = "TCN"
    numpy_class = np_tcn.TCN

    def __init__(self, in_channels: int, channels: int | Sequence[int], kernel_size: int = 3,
                 dilations: Sequence[int] | None = None, stacks: int = 1,
                 out_channels: int | None = None, dropout: float = 0.0,
                 weight_norm: bool = True, *, alignment: Alignment = "causal",
                 activation: str = "relu", norm: str | None = None, gate: bool = False,
                 skip_connections: bool = False, output_activation: str | None = None,
                 input_shape: str = "NCL") -> None:
        super().__init__()
        # the numpy twin resolves and checks the hyperparameters (no weights built)
        self.config = c = np_tcn.tcn_config(
            in_channels, channels, kernel_size, dilations, stacks, out_channels,
            alignment=alignment, activation=activation, norm=norm, gate=gate,
            skip_connections=skip_connections, output_activation=output_activation)
        if input_shape not in INPUT_SHAPES:
            raise ValueError(f"input_shape must be one of {INPUT_SHAPES}, got {input_shape!r}")
        self.input_shape = input_shape
        widths, last = c["channels"], c["channels"][-1]
        extents, delays = self._extents(), np_tcn.tcn_delays(c)
        ins = [in_channels] + widths[:-1]
        self.blocks = nn.ModuleList(
            TemporalBlock(c_in, c_out, kernel_size, d, dropout, weight_norm,
                          activation=activation, norm=norm, gate=gate,
                          alignment=(extents[f"blocks.{i}.conv1"], extents[f"blocks.{i}.conv2"]),
                          delay=delays.get(f"blocks.{i}.res_delay", (0, 0))[1])
            for i, (c_in, c_out, d) in enumerate(zip(ins, widths, c["dilations"])))
        self.skips = nn.ModuleDict({str(i): nn.Conv1d(width, last, 1)
                                    for i, width in enumerate(widths[:-1])
                                    if skip_connections and width != last})
        self.skip_delays = nn.ModuleDict({str(i): Delay(last, delays[f"skip_delays.{i}"][1])
                                          for i in range(len(widths) - 1)
                                          if f"skip_delays.{i}" in delays})
        self.head = None if out_channels is None else nn.Conv1d(last, out_channels, 1)
        self.in_channels, self.out_channels = in_channels, out_channels or last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, T)`` in, ``(B, C_out, T)`` out (``(B, T, C)`` both ways with
        ``input_shape="NLC"``)."""
        if self.input_shape == "NCL":
            return self._stream_forward(x)
        channels = self.config["in_channels"]
        if x.dim() != 3 or x.shape[2] != channels:
            raise ValueError(f"expected x of shape (B, T, {channels}) (input_shape='NLC'), "
                             f"got {tuple(x.shape)}")
        check_tensor(x)  # here, to quote a bad sample as the caller's x[b, t, c]
        with inside():
            return self._stream_forward(x.transpose(1, 2)).transpose(1, 2)

    def _stream_forward(self, x: torch.Tensor, **cond: torch.Tensor | None) -> torch.Tensor:
        """The forward call on ``(B, C_in, T)`` (what a stream runs)."""
        _check_input(x, self.config["in_channels"])
        with inside():
            return self._body(x)

    def _body(self, x: torch.Tensor) -> torch.Tensor:
        """The forward call on a checked ``(B, C_in, T)`` input."""
        c = self.config
        if not c.get("skip_connections", False):
            for block in self.blocks:
                x = block(x)
        else:  # pytorch-tcn's: act(sum of the skips + the last block's output)
            skips = []
            for i, block in enumerate(self.blocks):
                x, h = block.forward_with_skip(x)  # type: ignore[operator]  # a TemporalBlock
                key = str(i)
                if i < len(self.blocks) - 1:
                    h = _1x1(self.skips[key], h) if key in self.skips else h
                    skips.append(self.skip_delays[key](h) if key in self.skip_delays else h)
            x = ACTIVATIONS[c.get("activation", "relu")](torch.stack(skips + [x]).sum(0))
        if self.head is not None:
            x = _1x1(self.head, x)
        out = c.get("output_activation")
        return x if out is None else ACTIVATIONS[out](x)


class WaveNetLayer(nn.Module):
    """One gated residual layer: dilated conv (+ conditioning), tanh * sigmoid, skip, res."""

    def __init__(self, residual: int, gate: int, skip: int, kernel_size: int, dilation: int,
                 global_cond: int, local_cond: int, last: bool,
                 weight_norm: bool = False, *, alignment: str | tuple[int, int] = "causal",
                 delays: Mapping[str, int] | None = None) -> None:
        super().__init__()
        last = flag(last, "last")
        self._args = (f"{residual}, {gate}, {skip}, kernel_size={kernel_size}, "
                      f"dilation={dilation}, global_cond={global_cond}, "
                      f"local_cond={local_cond}, last={last}, weight_norm={weight_norm}")
        self.conv = _normed(AlignedConv1d(residual, gate, kernel_size, dilation,
                                          alignment=alignment), weight_norm)
        self.global_cond = nn.Conv1d(global_cond, gate, 1, bias=False) if global_cond else None
        self.local_cond = nn.Conv1d(local_cond, gate, 1, bias=False) if local_cond else None
        self.skip = nn.Conv1d(gate // 2, skip, 1)
        self.res = None if last else nn.Conv1d(gate // 2, residual, 1)
        # while streaming with lookahead: the residual waits for this conv, the skip for
        # the later layers' convs, the local conditioning for the convs up to this one
        delays = delays or {}
        self.res_delay = Delay(residual, delays.get("res_delay", 0))
        self.skip_delay = Delay(skip, delays.get("skip_delay", 0))
        self.cond_delay = Delay(local_cond, delays.get("cond_delay", 0))

    def __repr__(self) -> str:
        """The configuration; ``nn.Module.__repr__(m)`` prints the tree."""
        return f"WaveNetLayer({self._args})"

    def forward(self, h: torch.Tensor, global_cond: torch.Tensor | None = None,
                local_cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``h`` and ``local_cond`` (already through ``cond_delay``) in: the next layer's
        input and this layer's skip (through their delays)."""
        check_tensor(h, "h")  # (not inside a WaveNet: it checked its input)
        with inside():
            return self._body(h, global_cond, local_cond)

    def _body(self, h: torch.Tensor, global_cond: torch.Tensor | None,
              local_cond: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.conv(h)
        if self.global_cond is not None:
            a = a + self.global_cond(global_cond)
        if self.local_cond is not None:
            a = a + _1x1(self.local_cond, local_cond)  # type: ignore[arg-type]
        tanh_half, sigmoid_half = a.chunk(2, dim=1)
        z = torch.tanh(tanh_half) * torch.sigmoid(sigmoid_half)
        h = h if self.res is None else self.res_delay(h) + _1x1(self.res, z)
        return h, self.skip_delay(_1x1(self.skip, z))


class WaveNet(_Model):
    """WaveNet (van den Oord et al. 2016) with global and local conditioning, streaming.

    Arguments as ``wavedil.models.stack.WaveNet`` (the numpy twin, ``alignment`` included),
    plus ``weight_norm`` (False) for the gated convs.
    ``forward(x, global_cond=None, local_cond=None)``: ``global_cond`` ``(B, C_gc)``,
    ``local_cond`` ``(B, C_lc, T)`` at the audio rate (while streaming, the chunk's samples
    of it).

    >>> net = WaveNet(1, 8, 16, 8, dilations=[1, 2, 4], local_cond_channels=2)
    >>> y = net(torch.zeros(1, 1, 50), local_cond=torch.zeros(1, 2, 50))
    >>> net.receptive_field, tuple(y.shape)
    (9, (1, 1, 50))
    """

    architecture = "WaveNet"
    numpy_class = np_wavenet.WaveNet

    def __init__(self, in_channels: int = 1, residual_channels: int = 64,
                 gate_channels: int = 128, skip_channels: int = 64,
                 out_channels: int | None = None, kernel_size: int = 2,
                 dilations: Sequence[int] | None = None, stacks: int = 1,
                 global_cond_channels: int = 0, local_cond_channels: int = 0,
                 input_kernel_size: int | None = None, weight_norm: bool = False, *,
                 alignment: Alignment = "causal") -> None:
        super().__init__()
        in_channels, residual_channels, gate_channels, skip_channels, kernel_size = (
            integer(value, name) for value, name in (
                (in_channels, "in_channels"), (residual_channels, "residual_channels"),
                (gate_channels, "gate_channels"), (skip_channels, "skip_channels"),
                (kernel_size, "kernel_size")))
        global_cond_channels, local_cond_channels = (
            integer(value, name, low=0) for value, name in (
                (global_cond_channels, "global_cond_channels"),
                (local_cond_channels, "local_cond_channels")))
        if gate_channels % 2:
            raise ValueError(f"gate_channels must be even (tanh and sigmoid halves), "
                             f"got {gate_channels}")
        full = np_wavenet.wavenet_plan(dilations, stacks)
        check_budget(4.0 * len(full) * (residual_channels * gate_channels * kernel_size
                                        + gate_channels * (residual_channels + skip_channels))
                     + 4.0 * skip_channels * skip_channels,  # the head's first 1x1 conv
                     f"WaveNet(residual_channels={residual_channels}, gate_channels="
                     f"{gate_channels}, skip_channels={skip_channels}, kernel_size={kernel_size})"
                     f" of {len(full)} layers: its weights in float32", "use narrower layers")
        self.config = {"in_channels": in_channels, "residual_channels": residual_channels,
                       "gate_channels": gate_channels, "skip_channels": skip_channels,
                       "out_channels": in_channels if out_channels is None else out_channels,
                       "kernel_size": kernel_size,
                       "input_kernel_size": input_kernel_size or kernel_size,
                       "dilations": full, "global_cond_channels": global_cond_channels,
                       "local_cond_channels": local_cond_channels}
        option = alignment_option(alignment, np_wavenet.conv_spans(self.config))
        if option != "causal":
            self.config["alignment"] = option
        c, extents, delays = self.config, self._extents(), np_wavenet.wavenet_delays(self.config)
        self.input_conv = AlignedConv1d(in_channels, residual_channels, c["input_kernel_size"],
                                        alignment=extents["input_conv"])
        self.layers = nn.ModuleList(
            WaveNetLayer(residual_channels, gate_channels, skip_channels, kernel_size, d,
                         global_cond_channels, local_cond_channels, i == len(full) - 1,
                         weight_norm, alignment=extents[f"layers.{i}.conv"],
                         delays={kind: delays.get(f"layers.{i}.{kind}", (0, 0))[1]
                                 for kind in ("res_delay", "skip_delay", "cond_delay")})
            for i, d in enumerate(full))
        self.head1 = nn.Conv1d(skip_channels, skip_channels, 1)
        self.head2 = nn.Conv1d(skip_channels, c["out_channels"], 1)
        self.in_channels, self.out_channels = in_channels, c["out_channels"]

    def forward(self, x: torch.Tensor, global_cond: torch.Tensor | None = None,
                local_cond: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, C_in, T)`` in, ``(B, C_out, T)`` out; ``global_cond`` ``(B, C_gc)`` and
        ``local_cond`` ``(B, C_lc, T)`` when the model takes them."""
        c = self.config
        _check_input(x, c["in_channels"])
        if bool(c["global_cond_channels"]) != (global_cond is not None):
            raise ValueError(f"this WaveNet takes global_cond with {c['global_cond_channels']} "
                             f"channels (0: none), got {_shape(global_cond)}")
        if bool(c["local_cond_channels"]) != (local_cond is not None):
            raise ValueError(f"this WaveNet takes local_cond with {c['local_cond_channels']} "
                             f"channels (0: none), got {_shape(local_cond)}")
        if global_cond is not None:
            if tuple(global_cond.shape) != (x.shape[0], c["global_cond_channels"]):
                raise ValueError(f"expected global_cond of shape "
                                 f"{(x.shape[0], c['global_cond_channels'])}, "
                                 f"got {tuple(global_cond.shape)}")
            check_tensor(global_cond, "global_cond")
            global_cond = global_cond.unsqueeze(-1)
        if local_cond is not None:
            want = (x.shape[0], c["local_cond_channels"], x.shape[-1])
            if tuple(local_cond.shape) != want:
                raise ValueError(f"expected local_cond of shape {want}, "
                                 f"got {tuple(local_cond.shape)}")
            check_tensor(local_cond, "local_cond")
        with inside():  # the layers get what the model computed: not checked again
            h, skips = self.input_conv(x), 0
            for layer in self.layers:
                if local_cond is not None:
                    local_cond = layer.cond_delay(local_cond)  # type: ignore[operator]
                h, skip = layer(h, global_cond, local_cond)
                skips = skips + skip
            summed = F.relu(skips)  # type: ignore[arg-type]  # (a tensor: layers >= 1)
            return _1x1(self.head2, F.relu(_1x1(self.head1, summed)))

    def _flush_cond(self, batch: int, like: torch.Tensor) -> dict[str, torch.Tensor]:
        """No samples of local conditioning; zeros of global conditioning (replaced by the
        last chunk's when a chunk came)."""
        c, cond = self.config, {}
        if c["local_cond_channels"]:
            cond["local_cond"] = like.new_zeros((batch, c["local_cond_channels"], 0))
        if c["global_cond_channels"]:
            cond["global_cond"] = like.new_zeros((batch, c["global_cond_channels"]))
        return cond


def _shape(value):
    return None if value is None else tuple(value.shape)


class Stack(_Model):
    """Conv layers from a list of layer specs (``wavedil.models.stack.stack_plan``).

    Layer ``i`` is ``layers[i]`` (an ``AlignedConv1d``) then its activation, plus its input
    when residual (through ``res_delays[i]`` while streaming with lookahead);
    ``weight_norm`` applies weight norm to every conv; ``alignment`` the layers' default.

    >>> net = Stack([{"channels": 8, "kernel_size": 3, "dilation": 4},
    ...              {"channels": 1, "activation": None}], in_channels=2)
    >>> net.receptive_field, tuple(net(torch.zeros(1, 2, 10)).shape)
    (9, (1, 1, 10))
    """

    architecture = "Stack"
    numpy_class = np_stack.Stack

    def __init__(self, layers: Sequence[Mapping], in_channels: int | None = None,
                 activation: str | None = "relu", weight_norm: bool = False, *,
                 alignment: Alignment = "causal") -> None:
        super().__init__()
        in_channels, plan = np_stack.stack_plan(layers, in_channels, activation, alignment)
        self.config = {"in_channels": in_channels, "layers": plan}
        widths = [in_channels] + [lay["channels"] for lay in plan]
        self.layers = nn.ModuleList(
            _normed(AlignedConv1d(c_in, lay["channels"], lay["kernel_size"], lay["dilation"],
                                  lay["groups"], alignment=np_stack.layer_extent(lay)),
                    weight_norm)
            for c_in, lay in zip(widths, plan))
        delays = np_stack.stack_delays(self.config)
        self.res_delays = nn.ModuleDict({key.split(".")[1]: Delay(*delays[key])
                                         for key in delays})
        self.in_channels, self.out_channels = in_channels, plan[-1]["channels"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, T)`` in, ``(B, C_out, T)`` out."""
        _check_input(x, self.config["in_channels"])
        with inside():  # the convs get what the stack computed: not checked again
            for i, (conv, lay) in enumerate(zip(self.layers, self.config["layers"])):
                h = ACTIVATIONS[lay["activation"]](conv(x))
                if lay["residual"]:
                    x = (self.res_delays[str(i)](x) if str(i) in self.res_delays else x) + h
                else:
                    x = h
            return x
