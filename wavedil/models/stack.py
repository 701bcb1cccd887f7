"""A generic stack in numpy, and the one import for all the numpy models.

``Stack``: conv layers from a list of layer specs (channels, kernel, dilation, groups,
activation, residual, alignment; see ``stack_plan``), offline and streaming; a residual
layer with lookahead delays its identity path while streaming. The numpy
models live one per module and are re-exported here, so ``from wavedil.models.stack import X``
works for every name below:

- ``wavedil.models.tcn``: ``TCN``, ``TCNStream``, ``tcn_plan``.
- ``wavedil.models.wavenet``: ``WaveNet``, ``WaveNetStream``, ``wavenet_plan``.
- ``wavedil.models.activations``: ``ACTIVATIONS``, ``activate``, ``sigmoid``, ``LEAKY_SLOPE``.
- ``wavedil.models.base``: the shared machinery (parameters, conv steps, model streams), ``BLOCK``.

Shape: ``(T,)``, ``(C_in, T)`` or ``(B, C_in, T)`` in, the same layout with ``C_out``
channels out (``(T,)`` stays ``(T,)`` when ``C_out == 1``).

>>> import numpy as np
>>> stack = Stack([{"channels": 4, "kernel_size": 3, "dilation": 2},
...                {"channels": 1, "activation": None}], in_channels=1)
>>> x = np.random.default_rng(0).standard_normal((1, 60))
>>> s = stack.stream()
>>> y = np.concatenate([s.process(x[:, :7]), s.process(x[:, 7:]), s.flush()], axis=-1)
>>> bool(np.allclose(y, stack(x), rtol=1e-12, atol=0)), y.shape
(True, (1, 60))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..engine.checks import positive_int
from ..engine.params import flag
from ..engine.spec import Branches, Chain, LayerSpec, resolve_alignment
from .activations import ACTIVATIONS, LEAKY_SLOPE, activate, sigmoid
from .alignment import Alignment, alignment_option
from .base import BLOCK, Model, ModelState, ModelStream, _conv_spec
from .tcn import TCN, TCNStream, tcn_plan
from .wavenet import WaveNet, WaveNetStream, wavenet_plan

__all__ = [
    "ACTIVATIONS",
    "activate",
    "BLOCK",
    "LEAKY_SLOPE",
    "Model",
    "ModelState",
    "ModelStream",
    "sigmoid",
    "Stack",
    "stack_plan",
    "StackStream",
    "TCN",
    "tcn_plan",
    "TCNStream",
    "WaveNet",
    "wavenet_plan",
    "WaveNetStream",
]


def stack_plan(layers: Sequence[Mapping[str, Any] | LayerSpec], in_channels: int | None = None,
               activation: str | None = "relu", alignment: Alignment = "causal",
               ) -> tuple[int, list[dict[str, Any]]]:
    """Normalise a generic stack's layer specs to ``(in_channels, [dict, ...])``.

    Each layer is a dict with ``channels`` (output width; required), ``kernel_size`` (1),
    ``dilation`` (1), ``groups`` (1), ``activation`` (the stack's default; None or
    ``"identity"`` for none), ``residual`` (False: ``x + act(conv(x))`` if True) and
    ``alignment`` (``"causal"``, ``"centered"`` or ``(left, right)``), or a stride-1
    ``LayerSpec`` (its ``out_channels``, kernel, dilation, groups, extent; the default
    activation). ``in_channels`` defaults to the first layer's ``in_channels``.
    ``alignment``: the layers' default, or a list of one per layer. A layer's resolved
    ``alignment`` is kept only when it has lookahead (``"centered"`` or ``[left, right]``).
    """
    if isinstance(layers, (dict, LayerSpec)) or len(layers) == 0:
        raise ValueError(f"layers must be a non-empty list of layer specs, got {layers!r}")
    plan: list[dict[str, Any]] = []
    defaults = _layer_alignments(alignment, layers)
    for i, layer in enumerate(layers):
        if isinstance(layer, LayerSpec):
            if layer.stride != 1 or layer.kind != "conv":
                raise ValueError(f"layer {i}: a stack layer must be a conv with stride 1, got "
                                 f"kind {layer.kind!r}, stride {layer.stride}")
            layer = {"in_channels": layer.in_channels, "channels": layer.out_channels,
                     "kernel_size": layer.kernel_size, "dilation": layer.dilation,
                     "groups": layer.groups, "alignment": (layer.left, layer.right)}
        elif not isinstance(layer, dict):
            raise TypeError(f"layer {i} must be a dict or a LayerSpec, got {type(layer).__name__}")
        known = {"in_channels", "channels", "kernel_size", "dilation", "groups", "activation",
                 "residual", "alignment"}
        if set(layer) - known or "channels" not in layer:
            raise ValueError(f"layer {i}: expected keys 'channels' and optionally "
                             f"{sorted(known - {'channels'})}, got {sorted(layer)}")
        act = layer.get("activation", activation)
        act = "identity" if act is None else act
        if act not in ACTIVATIONS:
            raise ValueError(f"layer {i}: activation must be one of {ACTIVATIONS}, got {act!r}")
        entry: dict[str, Any] = {
            "channels": positive_int(layer["channels"], "channels"),
            "kernel_size": positive_int(layer.get("kernel_size", 1), "kernel_size"),
            "dilation": positive_int(layer.get("dilation", 1), "dilation"),
            "groups": positive_int(layer.get("groups", 1), "groups"),
            "activation": act,
            "residual": flag(layer.get("residual", False), f"layer {i}: residual")}
        span = (entry["kernel_size"] - 1) * entry["dilation"]
        aligned = layer.get("alignment", defaults[i])
        option = alignment_option(aligned if isinstance(aligned, str) else [aligned],
                                  {f"layer {i}": span})
        extent = option if isinstance(option, str) else (option[0][0], option[0][1])
        if resolve_alignment(extent, span)[1]:  # with lookahead (else causal, left out)
            entry["alignment"] = option if isinstance(option, str) else option[0]
        previous = plan[-1]["channels"] if plan else in_channels
        given = layer.get("in_channels")
        if previous is None:
            previous = given
            if previous is None:
                raise ValueError("in_channels is needed: give it or set it on the first layer")
        elif given is not None and given != previous:
            raise ValueError(f"layer {i}: expected {previous} input channels, got in_channels="
                             f"{given}")
        if previous % entry["groups"] or entry["channels"] % entry["groups"]:
            raise ValueError(f"layer {i}: groups = {entry['groups']} must divide the input "
                             f"({previous}) and output ({entry['channels']}) channels")
        if entry["residual"] and entry["channels"] != previous:
            raise ValueError(f"layer {i}: a residual layer keeps its width, expected channels = "
                             f"{previous}, got {entry['channels']}")
        if in_channels is None and not plan:
            in_channels = previous
        plan.append(entry)
    assert in_channels is not None  # given, or the first layer's
    return positive_int(int(in_channels), "in_channels"), plan


def _layer_alignments(alignment: Any, layers: Sequence) -> list[Any]:
    """The default alignment of each layer: one for all, or a list of one per layer."""
    if isinstance(alignment, str):
        return [alignment] * len(layers)
    alignments = list(alignment)
    if len(alignments) != len(layers):
        raise ValueError(f"alignment must be 'causal', 'centered' or a list of one per layer "
                         f"({len(layers)}), got {alignment!r}")
    return alignments


def layer_extent(layer: Mapping[str, Any]) -> tuple[int, int]:
    """A planned layer's ``(left, right)`` (``stack_plan``)."""
    span = (layer["kernel_size"] - 1) * layer["dilation"]
    return resolve_alignment(layer.get("alignment", "causal"), span)


class Stack(Model):
    """Conv layers from a list of layer specs (see ``stack_plan``; ``alignment`` is the
    layers' default, causal unless given).

    Layer ``i`` computes ``act(conv(x))`` (or ``x + act(conv(x))`` when residual);
    parameters ``layers.{i}.weight`` ``(C_out, C_in // groups, K)`` and ``layers.{i}.bias``.

    >>> Stack([{"channels": 4, "kernel_size": 3, "dilation": 2},
    ...        {"channels": 1, "activation": None}], in_channels=1).receptive_field
    5
    """

    architecture = "Stack"

    def __init__(self, layers: list[dict[str, Any] | LayerSpec], in_channels: int | None = None,
                 activation: str | None = "relu", *, alignment: Alignment = "causal",
                 params: dict[str, npt.ArrayLike] | None = None, seed: int | None = 0) -> None:
        in_channels, plan = stack_plan(layers, in_channels, activation, alignment)
        super().__init__({"in_channels": in_channels, "layers": plan}, params, seed)

    @property
    def format_version(self) -> int:
        """The model-file version this config needs: 2 if a layer sets ``alignment``, else 1."""
        return 2 if any("alignment" in layer for layer in self.config["layers"]) else 1

    @property
    def out_channels(self) -> int:
        """C_out: the last layer's channels."""
        return self.config["layers"][-1]["channels"]

    @staticmethod
    def _widths(c):
        widths = [c["in_channels"]] + [lay["channels"] for lay in c["layers"]]
        return list(zip(widths[:-1], widths[1:]))

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape (PyTorch layout), as in the torch twin
        ``wavedil.nn.Stack``."""
        shapes: dict[str, tuple[int, ...]] = {}
        for i, ((c_in, c_out), lay) in enumerate(zip(self._widths(self.config),
                                                     self.config["layers"])):
            shapes[f"layers.{i}.weight"] = (c_out, c_in // lay["groups"], lay["kernel_size"])
            shapes[f"layers.{i}.bias"] = (c_out,)
        return shapes

    def _dilated(self):
        return {f"layers.{i}": (lay["dilation"], lay["groups"])
                for i, lay in enumerate(self.config["layers"])
                if lay["kernel_size"] > 1 or lay["groups"] > 1}

    @classmethod
    def spec_of(cls, config: dict[str, Any]) -> Chain:
        """The spec tree of a stack with this (resolved) ``config``; the torch twin uses it."""
        parts = []
        for i, ((c_in, c_out), lay) in enumerate(zip(cls._widths(config), config["layers"])):
            conv = _conv_spec(f"layers.{i}", c_in, c_out, lay["kernel_size"],
                              lay["dilation"], lay["groups"], layer_extent(lay))
            parts.append(Branches((Chain(()), conv)) if lay["residual"] else conv)
        return Chain(tuple(parts))

    def delays(self) -> dict[str, tuple[int, int]]:
        """A residual layer's identity path waits for its lookahead (``res_delays.{i}``)."""
        return stack_delays(self.config)

    def stream(self, batch: int | None = None) -> StackStream:
        """A fresh stream (latency ``self.latency``)."""
        return StackStream(self, batch)


def stack_delays(config: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """``Stack.delays`` of a config (the torch twin places its delays by it)."""
    return {f"res_delays.{i}": (layer["channels"], layer_extent(layer)[1])
            for i, layer in enumerate(config["layers"])
            if layer["residual"] and layer_extent(layer)[1]}


class StackStream(ModelStream):
    """Stream of a numpy ``Stack``: each layer an engine ``ConvStream`` child (any groups,
    any kernel) or a matrix product, then its activation."""

    def _bind(self, dtype: np.dtype) -> None:
        self._layers = [(self.ops[f"layers.{i}"], lay["activation"], lay["residual"])
                        for i, lay in enumerate(self.model.config["layers"])]

    def _run(self, x: np.ndarray, **cond: np.ndarray) -> np.ndarray:  # (no conditioning)
        for i, (conv, activation, residual) in enumerate(self._layers):
            h = activate(activation, conv(x))
            x = self.delay(f"res_delays.{i}", x) + h if residual else h
        return x
