"""Interop: convert a pytorch-tcn ``TCN`` into the equivalent wavedil torch ``TCN``.

pytorch-tcn (``pip install pytorch-tcn``) builds, with its default options, exactly the
locuslab/Bai et al. TCN of ``wavedil.nn.TCN``: per block two causal dilated convs with
weight norm (``torch.nn.utils.parametrizations.weight_norm``), ReLU and dropout after each,
a 1x1 ``downsample`` where the width changes, ReLU after the residual sum; its
``output_projection`` is our 1x1 ``head``. ``from_pytorch_tcn`` copies the parameters as
they are (weight-norm ``g`` and ``v`` too, so training can continue), and the result
exports to numpy with ``wavedil.nn.export``. Options with no wavedil equivalent raise a
``ValueError`` that names them.
"""

from __future__ import annotations

import torch
from torch import nn

from .models import TCN

# option name -> (value wavedil supports, why another value cannot be mapped)
_SUPPORTED = {
    "causal": (True, "wavedil stacks are causal (non-causal padding splits the kernel)"),
    "activation": ("relu", "wavedil's TCN uses ReLU"),
    "use_skip_connections": (False, "wavedil's TCN has no skip connections (use WaveNet)"),
    "use_gate": (False, "wavedil's TCN has no gated (GLU) convs"),
    "embedding_shapes": (None, "wavedil's TCN has no embeddings (WaveNet has conditioning)"),
    "input_shape": ("NCL", "wavedil models take (B, C, T); transpose NLC input yourself"),
    "output_activation": (None, "wavedil's TCN head is linear"),
}


def from_pytorch_tcn(model: nn.Module) -> TCN:
    """The wavedil ``TCN`` computing what the pytorch-tcn ``TCN`` ``model`` computes.

    Same weights (weight norm kept as ``g``/``v``), dtype, device and train/eval mode.
    Raises ValueError naming any option it cannot map (``causal=False``, norms other than
    weight norm or none, activations other than ReLU, skip connections, gates, embeddings,
    NLC input, an output activation).
    """
    import pytorch_tcn

    if not isinstance(model, pytorch_tcn.TCN):
        raise TypeError(f"expected a pytorch_tcn.TCN, got {type(model).__name__}")
    for option, (supported, why) in _SUPPORTED.items():
        value = getattr(model, option)
        if value != supported or type(value) is not type(supported):
            raise ValueError(f"pytorch-tcn option {option}={value!r} cannot be mapped "
                             f"(only {option}={supported!r}): {why}")
    blocks = list(model.network)
    norms = {block.use_norm for block in blocks}
    if not norms <= {"weight_norm", None} or len(norms) != 1:
        raise ValueError(f"pytorch-tcn option use_norm={sorted(map(str, norms))} cannot be "
                         f"mapped (only 'weight_norm' or None): wavedil's TCN has no "
                         f"batch or layer norm")
    first = blocks[0].conv1
    for block in blocks:
        for conv in (block.conv1, block.conv2):
            pad = conv.padder.pad
            if not isinstance(pad, nn.ConstantPad1d) or pad.value != 0 or conv.stride[0] != 1:
                raise ValueError(f"pytorch-tcn padding_mode/stride cannot be mapped: expected "
                                 f"zero padding and stride 1, got {pad} and stride "
                                 f"{conv.stride[0]}")
    weight = next(model.parameters())
    ours = TCN(first.in_channels, [block.conv2.out_channels for block in blocks],
               kernel_size=first.kernel_size[0], dilations=[int(d) for d in model.dilations],
               out_channels=None if model.projection_out is None else
               model.projection_out.out_channels,
               dropout=blocks[0].dropout1.p, weight_norm=norms == {"weight_norm"})
    ours = ours.to(dtype=weight.dtype, device=weight.device)
    with torch.no_grad():
        for mine, theirs in zip(ours.blocks, blocks):
            for name in ("conv1", "conv2"):
                _copy_conv(getattr(mine, name), getattr(theirs, name))
            if theirs.downsample is not None:
                mine.downsample.load_state_dict(theirs.downsample.state_dict())  # type: ignore[union-attr]
        if model.projection_out is not None:
            ours.head.load_state_dict(model.projection_out.state_dict())  # type: ignore[union-attr]
    return ours.train(model.training)


def _copy_conv(mine: nn.Module, theirs: nn.Module) -> None:
    """Copy weight (or weight-norm g and v) and bias; pytorch-tcn's padder buffer is skipped."""
    state = {k: v for k, v in theirs.state_dict().items() if not k.startswith("padder.")}
    if "weight_g" in state:  # the older torch.nn.utils.weight_norm API
        state["parametrizations.weight.original0"] = state.pop("weight_g")
        state["parametrizations.weight.original1"] = state.pop("weight_v")
    mine.load_state_dict(state)
