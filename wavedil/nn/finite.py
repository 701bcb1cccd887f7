"""The non-finite policy (``wavedil.nonfinite``) on the input of a torch module."""

from __future__ import annotations

import torch

from ..engine.finite import check_signal, policy


def check_tensor(x: torch.Tensor, name: str = "x") -> None:
    """The non-finite policy on a module's input (``wavedil.nonfinite``): one
    ``torch.isfinite(x).all()`` pass; the first bad index is looked for only on failure.
    Skipped while tracing or exporting (the check would become part of the graph)."""
    if policy() != "refuse" or not (x.is_floating_point() or x.is_complex()) or \
            torch.jit.is_tracing() or torch.jit.is_scripting() or \
            torch.onnx.is_in_onnx_export():
        return
    if not bool(torch.isfinite(x).all()):
        check_signal(x.detach().cpu().numpy(), name)
