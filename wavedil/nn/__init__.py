"""wavedil in torch: causal dilated stacks to train, stream, and export to numpy.

Only this subpackage imports torch (the optional ``wavedil[torch]`` extra); ``import
wavedil`` works without it.

- ``layers``: ``AlignedConv1d`` (lookahead), ``CausalConv1d`` and the ``Streaming`` mixin
  (``model.stream(batch)``).
- ``models``: ``TCN``, ``WaveNet``, ``Stack`` (twins of ``wavedil.models``).
- ``export``: ``export(model, path)`` (weight norm folded, ``.npz``), ``to_numpy(model)``.
- ``interop``: ``from_pytorch_tcn(model)`` for pytorch-tcn's ``TCN``.
- ``onnx``: ``export_onnx(model, path, chunk)``, a streaming step with explicit state (the
  ``onnx`` extra).
"""

from .export import export, folded_weight, to_numpy
from .interop import from_pytorch_tcn
from .layers import AlignedConv1d, CausalConv1d, Streaming
from .models import TCN, Stack, TemporalBlock, WaveNet, WaveNetLayer
from .onnx import export_onnx

__all__ = [
    "TCN",
    "AlignedConv1d",
    "CausalConv1d",
    "Stack",
    "Streaming",
    "TemporalBlock",
    "WaveNet",
    "WaveNetLayer",
    "export",
    "export_onnx",
    "folded_weight",
    "from_pytorch_tcn",
    "to_numpy",
]
