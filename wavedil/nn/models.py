"""TCN, WaveNet and a generic causal stack in torch: the trainable twins of
``wavedil.models``.

Same architectures, hyperparameters and parameter names as the numpy models (the plans
``tcn_plan``/``wavenet_plan``/``stack_plan`` are shared), so ``wavedil.nn.export`` writes a
file ``wavedil.models.loader.load`` turns into the numpy model. Each model has ``.config`` (the
resolved hyperparameters the numpy twin takes), ``.spec`` (its spec tree), and streams with
``with model.streaming(batch_size):`` (see ``wavedil.nn.layers``).

Shape: ``(B, C_in, T)`` in, ``(B, C_out, T)`` out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm as _weight_norm

from ..engine.spec import Chain
from ..models import stack as np_stack
from ..models import tcn as np_tcn
from ..models import wavenet as np_wavenet
from ..models.activations import LEAKY_SLOPE
from ..receptive.field import past_extent
from .layers import CausalConv1d, Streaming

ACTIVATIONS = {
    "identity": lambda x: x,
    "relu": F.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "gelu": F.gelu,
    "elu": F.elu,
    "leaky_relu": lambda x: F.leaky_relu(x, LEAKY_SLOPE),
}


def _check_input(x: torch.Tensor, channels: int, name: str = "x") -> None:
    if x.dim() != 3 or x.shape[1] != channels:
        raise ValueError(f"expected {name} of shape (B, {channels}, T), got {tuple(x.shape)}")


def _short(value, most: int = 6):
    """A config value for a repr: long lists cut to their ends and length."""
    if not isinstance(value, list) or len(value) <= most:
        return value
    if any(isinstance(v, dict) for v in value):
        return f"{len(value)} layers"
    return f"{value[:3]} ... {value[-2:]} ({len(value)})".replace("] ... [", ", ..., ")


def _normed(conv: nn.Module, weight_norm: bool) -> nn.Module:
    return _weight_norm(conv) if weight_norm else conv


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
        """Input samples each output sees: 1 + the past extent of the longest path."""
        return 1 + past_extent(self.spec)

    def stream_config(self) -> dict[str, Any]:
        """``{"op": architecture, **config}``, as the numpy twin's stream: states interchange."""
        return {"op": self.architecture, **self.config}

    def __repr__(self) -> str:
        """The configuration, as the numpy twin's; ``nn.Module.__repr__(m)`` prints the tree."""
        short = {k: _short(v) for k, v in self.config.items()}
        return f"{type(self).__name__}({json.dumps(short)})"

    def _empty(self, x: torch.Tensor) -> torch.Tensor:
        """The output for a chunk of 0 samples (torch's 1x1 convs refuse empty inputs)."""
        return x.new_zeros((x.shape[0], self.out_channels, 0))


class TemporalBlock(nn.Module):
    """``relu(res(x) + dropout(relu(conv2(dropout(relu(conv1(x)))))))``, as in locuslab/TCN."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int,
                 dropout: float = 0.0, weight_norm: bool = True) -> None:
        super().__init__()
        self._args = (f"{in_channels}, {out_channels}, kernel_size={kernel_size}, "
                      f"dilation={dilation}, dropout={dropout}, weight_norm={weight_norm}")
        self.conv1 = _normed(CausalConv1d(in_channels, out_channels, kernel_size, dilation),
                             weight_norm)
        self.conv2 = _normed(CausalConv1d(out_channels, out_channels, kernel_size, dilation),
                             weight_norm)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.downsample = (nn.Conv1d(in_channels, out_channels, 1)
                           if in_channels != out_channels else None)

    def __repr__(self) -> str:
        """The configuration; ``nn.Module.__repr__(m)`` prints the tree."""
        return f"TemporalBlock({self._args})"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dropout1(F.relu(self.conv1(x)))
        h = self.dropout2(F.relu(self.conv2(h)))
        return F.relu(h + (x if self.downsample is None else self.downsample(x)))


class TCN(_Model):
    """Temporal convolutional network (Bai, Kolter & Koltun 2018) with streaming.

    Args:
        in_channels: input channels.
        channels: one width for every block, or a list of one width per block.
        kernel_size: taps of each dilated causal conv (two per block).
        dilations: dilations of one stack (default ``1, 2, 4, ...``, one per block); a
            receptive-field planner's list goes here directly.
        stacks: repeats of ``dilations``.
        out_channels: width of an optional 1x1 ``head`` after the last block.
        dropout: dropout after each conv's ReLU (training only).
        weight_norm: weight-normalise the dilated convs (``torch.nn.utils.parametrizations``).

    >>> tcn = TCN(1, 16, kernel_size=3, dilations=[1, 2, 4, 8], out_channels=1)
    >>> tcn.receptive_field, tuple(tcn(torch.zeros(2, 1, 100)).shape)
    (61, (2, 1, 100))
    """

    architecture = "TCN"
    numpy_class = np_tcn.TCN

    def __init__(self, in_channels: int, channels: int | Sequence[int], kernel_size: int = 3,
                 dilations: Sequence[int] | None = None, stacks: int = 1,
                 out_channels: int | None = None, dropout: float = 0.0,
                 weight_norm: bool = True) -> None:
        super().__init__()
        # the numpy twin resolves and checks the hyperparameters (no weights built)
        widths, full = np_tcn.tcn_plan(channels, dilations, stacks)
        self.config = {"in_channels": in_channels, "channels": widths,
                       "kernel_size": kernel_size, "dilations": full,
                       "out_channels": out_channels}
        ins = [in_channels] + widths[:-1]
        self.blocks = nn.ModuleList(
            TemporalBlock(c_in, c_out, kernel_size, d, dropout, weight_norm)
            for c_in, c_out, d in zip(ins, widths, full))
        self.head = None if out_channels is None else nn.Conv1d(widths[-1], out_channels, 1)
        self.in_channels, self.out_channels = in_channels, out_channels or widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.config["in_channels"])
        if x.shape[-1] == 0:
            return self._empty(x)
        for block in self.blocks:
            x = block(x)
        return x if self.head is None else self.head(x)


class WaveNetLayer(nn.Module):
    """One gated residual layer: dilated conv (+ conditioning), tanh * sigmoid, skip, res."""

    def __init__(self, residual: int, gate: int, skip: int, kernel_size: int, dilation: int,
                 global_cond: int, local_cond: int, last: bool,
                 weight_norm: bool = False) -> None:
        super().__init__()
        self._args = (f"{residual}, {gate}, {skip}, kernel_size={kernel_size}, "
                      f"dilation={dilation}, global_cond={global_cond}, "
                      f"local_cond={local_cond}, last={last}, weight_norm={weight_norm}")
        self.conv = _normed(CausalConv1d(residual, gate, kernel_size, dilation), weight_norm)
        self.global_cond = nn.Conv1d(global_cond, gate, 1, bias=False) if global_cond else None
        self.local_cond = nn.Conv1d(local_cond, gate, 1, bias=False) if local_cond else None
        self.skip = nn.Conv1d(gate // 2, skip, 1)
        self.res = None if last else nn.Conv1d(gate // 2, residual, 1)

    def __repr__(self) -> str:
        """The configuration; ``nn.Module.__repr__(m)`` prints the tree."""
        return f"WaveNetLayer({self._args})"

    def forward(self, h: torch.Tensor, global_cond: torch.Tensor | None = None,
                local_cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.conv(h)
        if self.global_cond is not None:
            a = a + self.global_cond(global_cond)
        if self.local_cond is not None:
            a = a + self.local_cond(local_cond)
        tanh_half, sigmoid_half = a.chunk(2, dim=1)
        z = torch.tanh(tanh_half) * torch.sigmoid(sigmoid_half)
        return (h if self.res is None else h + self.res(z)), self.skip(z)


class WaveNet(_Model):
    """WaveNet (van den Oord et al. 2016) with global and local conditioning, streaming.

    Arguments as ``wavedil.models.stack.WaveNet`` (the numpy twin), plus ``weight_norm`` (False)
    for the gated convs. ``forward(x, global_cond=None, local_cond=None)``: ``global_cond``
    ``(B, C_gc)``, ``local_cond`` ``(B, C_lc, T)`` at the audio rate (while streaming, the
    chunk's samples of it).

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
                 input_kernel_size: int | None = None, weight_norm: bool = False) -> None:
        super().__init__()
        if gate_channels % 2:
            raise ValueError(f"gate_channels must be even (tanh and sigmoid halves), "
                             f"got {gate_channels}")
        full = np_wavenet.wavenet_plan(dilations, stacks)
        self.config = {"in_channels": in_channels, "residual_channels": residual_channels,
                       "gate_channels": gate_channels, "skip_channels": skip_channels,
                       "out_channels": in_channels if out_channels is None else out_channels,
                       "kernel_size": kernel_size,
                       "input_kernel_size": input_kernel_size or kernel_size,
                       "dilations": full, "global_cond_channels": global_cond_channels,
                       "local_cond_channels": local_cond_channels}
        c = self.config
        self.input_conv = CausalConv1d(in_channels, residual_channels, c["input_kernel_size"])
        self.layers = nn.ModuleList(
            WaveNetLayer(residual_channels, gate_channels, skip_channels, kernel_size, d,
                         global_cond_channels, local_cond_channels, i == len(full) - 1,
                         weight_norm)
            for i, d in enumerate(full))
        self.head1 = nn.Conv1d(skip_channels, skip_channels, 1)
        self.head2 = nn.Conv1d(skip_channels, c["out_channels"], 1)
        self.in_channels, self.out_channels = in_channels, c["out_channels"]

    def forward(self, x: torch.Tensor, global_cond: torch.Tensor | None = None,
                local_cond: torch.Tensor | None = None) -> torch.Tensor:
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
            global_cond = global_cond.unsqueeze(-1)
        if local_cond is not None:
            want = (x.shape[0], c["local_cond_channels"], x.shape[-1])
            if tuple(local_cond.shape) != want:
                raise ValueError(f"expected local_cond of shape {want}, "
                                 f"got {tuple(local_cond.shape)}")
        if x.shape[-1] == 0:
            return self._empty(x)
        h, skips = self.input_conv(x), 0
        for layer in self.layers:
            h, skip = layer(h, global_cond, local_cond)
            skips = skips + skip
        return self.head2(F.relu(self.head1(F.relu(skips))))  # type: ignore[arg-type]


def _shape(value):
    return None if value is None else tuple(value.shape)


class Stack(_Model):
    """Causal conv layers from a list of layer specs (``wavedil.models.stack.stack_plan``).

    Layer ``i`` is ``layers[i]`` (a ``CausalConv1d``) then its activation, plus its input
    when residual; ``weight_norm`` applies weight norm to every conv.

    >>> net = Stack([{"channels": 8, "kernel_size": 3, "dilation": 4},
    ...              {"channels": 1, "activation": None}], in_channels=2)
    >>> net.receptive_field, tuple(net(torch.zeros(1, 2, 10)).shape)
    (9, (1, 1, 10))
    """

    architecture = "Stack"
    numpy_class = np_stack.Stack

    def __init__(self, layers: Sequence[Mapping], in_channels: int | None = None,
                 activation: str | None = "relu", weight_norm: bool = False) -> None:
        super().__init__()
        in_channels, plan = np_stack.stack_plan(layers, in_channels, activation)
        self.config = {"in_channels": in_channels, "layers": plan}
        widths = [in_channels] + [lay["channels"] for lay in plan]
        self.layers = nn.ModuleList(
            _normed(CausalConv1d(c_in, lay["channels"], lay["kernel_size"], lay["dilation"],
                                 lay["groups"]), weight_norm)
            for c_in, lay in zip(widths, plan))
        self.in_channels, self.out_channels = in_channels, plan[-1]["channels"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.config["in_channels"])
        if x.shape[-1] == 0:
            return self._empty(x)
        for conv, lay in zip(self.layers, self.config["layers"]):
            h = ACTIVATIONS[lay["activation"]](conv(x))
            x = x + h if lay["residual"] else h
        return x
