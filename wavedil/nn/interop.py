"""Interop: convert a pytorch-tcn ``TCN`` into the equivalent wavedil torch ``TCN``.

pytorch-tcn (``pip install pytorch-tcn``) builds, with its default options, exactly the
locuslab/Bai et al. TCN of ``wavedil.nn.TCN``: per block two dilated convs with weight norm
(``torch.nn.utils.parametrizations.weight_norm``), ReLU and dropout after each, a 1x1
``downsample`` where the width changes, ReLU after the residual sum; its
``output_projection`` is our 1x1 ``head``. Its other options map onto wavedil's TCN options:

=========================  ================================================================
pytorch-tcn                wavedil ``TCN``
=========================  ================================================================
``causal=False``           ``alignment``: each conv's padding, ``(span // 2, span - span //
                           2)`` (pytorch-tcn pads the extra sample after), streamed with
                           that lookahead as latency
``activation``             ``activation`` (relu, tanh, sigmoid, gelu, elu, leaky_relu, and
                           ``nn.SiLU``/``nn.SELU``/``nn.Identity`` passed as classes)
``use_norm``               ``weight_norm`` (``g``/``v`` kept, so training can continue),
                           ``"batch_norm"`` folded into the convs (eval mode),
                           ``norm="layer_norm"`` (over the channels of each sample)
``use_gate``               ``gate`` (conv1 twice as wide, GLU)
``use_skip_connections``   ``skip_connections`` (its 1x1 skip convs are ``skips.{i}``)
``input_shape="NLC"``      ``input_shape="NLC"`` (forward only; streams take time last)
``output_projection``      ``out_channels`` (``head``), ``output_activation``
``dropout``                ``dropout`` (identity in eval mode); ``kernel_initializer``:
                           irrelevant (weights are copied)
=========================  ================================================================

Refused by name (a ``ValueError`` naming the option and why): ``embedding_shapes``
(conditioning embeddings), batch norm in train mode or without running statistics (its
statistics are the batch's, which no stream sees), activations with no wavedil equivalent
(``softmax``/``log_softmax`` without a ``dim`` normalise over the batch axis; other
modules), a layer norm whose ``eps`` is not torch's default, padding other than zeros.
The result exports to numpy with ``wavedil.nn.export``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..models.activations import LAYER_NORM_EPS, LEAKY_SLOPE
from .models import TCN

# module type -> (wavedil activation name, the module's attributes that must hold these values)
_ACTIVATIONS: dict[type, tuple[str, dict[str, Any]]] = {
    nn.ReLU: ("relu", {}), nn.Tanh: ("tanh", {}), nn.Sigmoid: ("sigmoid", {}),
    nn.GELU: ("gelu", {"approximate": "none"}), nn.ELU: ("elu", {"alpha": 1.0}),
    nn.LeakyReLU: ("leaky_relu", {"negative_slope": LEAKY_SLOPE}), nn.SiLU: ("silu", {}),
    nn.SELU: ("selu", {}), nn.Identity: ("identity", {}),
}


def from_pytorch_tcn(model: Any) -> TCN:
    """The wavedil ``TCN`` computing what the pytorch-tcn ``TCN`` ``model`` computes.

    Same weights (weight norm kept as ``g``/``v``; batch norm folded into the convs), dtype,
    device and train/eval mode. Raises ValueError naming any option it cannot map (see the
    module docstring).
    """
    import pytorch_tcn

    if not isinstance(model, pytorch_tcn.TCN):
        raise TypeError(f"model must be a pytorch_tcn.TCN, got {type(model).__name__}")
    if model.embedding_shapes is not None:
        raise ValueError(f"pytorch-tcn option embedding_shapes={model.embedding_shapes!r} "
                         f"cannot be mapped: wavedil's TCN takes no conditioning embeddings "
                         f"(WaveNet has global and local conditioning)")
    blocks: list[Any] = list(model.network)
    norms = {block.use_norm for block in blocks}
    if len(norms) != 1:
        raise ValueError(f"pytorch-tcn option use_norm={sorted(map(str, norms))} cannot be "
                         f"mapped: the blocks differ")
    norm = norms.pop()
    if norm == "batch_norm":
        _check_batch_norms(blocks)
    activation = _common_activation(model, blocks)
    extents = [_extent(conv) for block in blocks for conv in (block.conv1, block.conv2)]
    first, weight = blocks[0].conv1, next(model.parameters())
    ours = TCN(first.in_channels, [block.conv2.out_channels for block in blocks],
               kernel_size=first.kernel_size[0], dilations=[int(d) for d in model.dilations],
               out_channels=None if model.projection_out is None else
               model.projection_out.out_channels,
               dropout=blocks[0].dropout1.p, weight_norm=norm == "weight_norm",
               alignment=extents, activation=activation,
               norm="layer_norm" if norm == "layer_norm" else None, gate=bool(model.use_gate),
               skip_connections=bool(model.use_skip_connections),
               output_activation=None if model.activation_out is None else
               _activation_name(model.activation_out, "output_activation"),
               input_shape=model.input_shape)
    ours = ours.to(dtype=weight.dtype, device=weight.device)
    with torch.no_grad():
        for mine, theirs in zip(ours.blocks, blocks):
            for i in (1, 2):
                conv, norm_module = getattr(theirs, f"conv{i}"), getattr(theirs, f"norm{i}")
                if norm == "batch_norm":
                    _copy_folded(getattr(mine, f"conv{i}"), conv, norm_module)
                else:
                    _copy_conv(getattr(mine, f"conv{i}"), conv)
                if norm == "layer_norm":
                    _copy_layer_norm(getattr(mine, f"norm{i}"), norm_module)
            if theirs.downsample is not None:
                mine.downsample.load_state_dict(theirs.downsample.state_dict())  # type: ignore[union-attr]
        for i, skip in enumerate(model.downsample_skip_connection or []):
            if skip is not None:
                ours.skips[str(i)].load_state_dict(skip.state_dict())
        if model.projection_out is not None:
            ours.head.load_state_dict(model.projection_out.state_dict())  # type: ignore[union-attr]
    return ours.train(model.training)


def _activation_name(module: Any, option: str) -> str:
    """The wavedil name of an activation module, or a ValueError naming ``option``."""
    for kind, (name, attributes) in _ACTIVATIONS.items():
        if type(module) is kind and all(getattr(module, k) == v for k, v in attributes.items()):
            return name
    why = "wavedil's activations are relu, tanh, sigmoid, gelu (exact), elu (alpha 1), " \
          "leaky_relu (slope 0.01), silu, selu and identity"
    if isinstance(module, (nn.Softmax, nn.LogSoftmax)) and module.dim is None:
        why = ("without a dim it normalises (B, C, T) over the batch axis, which mixes the "
               "signals of a batch and has no per-signal (streaming) meaning")
    raise ValueError(f"pytorch-tcn option {option}={module!r} cannot be mapped: {why}")


def _common_activation(model: Any, blocks: list[Any]) -> str:
    """The one activation of every block (and of the skip sum)."""
    modules = [("activation", m) for block in blocks
               for m in ((block.activation2, block.activation_final) +
                         (() if model.use_gate else (block.activation1,)))]
    if model.use_skip_connections:
        modules.append(("activation", model.activation_skip_out))
    names = {_activation_name(m, option) for option, m in modules}
    if len(names) != 1:
        raise ValueError(f"pytorch-tcn option activation cannot be mapped: the blocks use "
                         f"{sorted(names)}, wavedil's TCN one activation")
    for block in blocks:
        if model.use_gate and not (isinstance(block.activation1, nn.GLU)
                                   and block.activation1.dim == 1):
            raise ValueError(f"pytorch-tcn option use_gate=True cannot be mapped: expected a "
                             f"GLU over the channels, got {block.activation1!r}")
    return names.pop()


def _extent(conv: Any) -> tuple[int, int]:
    """A pytorch-tcn conv's ``(left, right)`` zero padding (its stride must be 1)."""
    pad = conv.padder.pad
    if not isinstance(pad, nn.ConstantPad1d) or pad.value != 0 or conv.stride[0] != 1:
        raise ValueError(f"pytorch-tcn padding_mode/stride cannot be mapped: expected zero "
                         f"padding and stride 1, got {pad} and stride {conv.stride[0]}")
    left, right = pad.padding
    return int(left), int(right)


def _check_batch_norms(blocks: list[Any]) -> None:
    for block in blocks:
        for bn in (block.norm1, block.norm2):
            if bn.training or bn.running_mean is None:
                raise ValueError(
                    "pytorch-tcn option use_norm='batch_norm' cannot be mapped in train mode "
                    "(or without track_running_stats): it normalises with the statistics of "
                    "the batch, which a stream never sees whole; call model.eval() first, "
                    "then its running statistics fold into the convs")


def _copy_conv(mine: nn.Module, theirs: nn.Module) -> None:
    """Copy weight (or weight-norm g and v) and bias; pytorch-tcn's padder buffer is skipped."""
    state = {k: v for k, v in theirs.state_dict().items() if not k.startswith("padder.")}
    if "weight_g" in state:  # the older torch.nn.utils.weight_norm API
        state["parametrizations.weight.original0"] = state.pop("weight_g")
        state["parametrizations.weight.original1"] = state.pop("weight_v")
    mine.load_state_dict(state)


def _copy_folded(mine: Any, conv: Any, bn: Any) -> None:
    """``bn(conv(x))`` in eval mode as one conv: ``w s``, ``(b - mean) s + beta`` with
    ``s = gamma / sqrt(var + eps)`` (computed in float64)."""
    var, mean = bn.running_var.double(), bn.running_mean.double()
    scale = (bn.weight.double() if bn.weight is not None else 1) / torch.sqrt(var + bn.eps)
    shift = bn.bias.double() if bn.bias is not None else 0
    bias = conv.bias.double() if conv.bias is not None else 0
    mine.weight.copy_(conv.weight.double() * scale[:, None, None])
    mine.bias.copy_((bias - mean) * scale + shift)


def _copy_layer_norm(mine: Any, theirs: Any) -> None:
    if theirs.eps != LAYER_NORM_EPS:
        raise ValueError(f"pytorch-tcn layer norm eps={theirs.eps} cannot be mapped: wavedil's "
                         f"layer norm uses torch's default {LAYER_NORM_EPS}")
    if theirs.weight is None:  # no affine parameters: the identity's
        mine.weight.fill_(1)
        mine.bias.fill_(0)
        return
    mine.weight.copy_(theirs.weight)
    mine.bias.copy_(theirs.bias if theirs.bias is not None else torch.zeros_like(mine.bias))
