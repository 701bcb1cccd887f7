"""The non-finite policy (``wavedil.nonfinite``) on the input of a torch module, and the
memory budget (``wavedil.engine.params``) on what a conv computes from it.

A module checks the input its caller gave it (``check_tensor``), once: a model or block
runs its body ``inside()``, where the modules it calls, which get what it computed, are not
checked again. A non-finite value computed inside (an overflow of huge weights) is
arithmetic, as in ``torch.nn.Conv1d`` and the numpy models: it comes out, and is never
reported as the caller's input.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from ..engine.finite import check_signal, policy
from ..engine.params import check_budget

_inner = threading.local()  # depth: how many checked modules this thread is inside


def check_tensor(x: torch.Tensor, name: str = "x") -> None:
    """The non-finite policy on a module's input (``wavedil.nonfinite``): one
    ``torch.isfinite(x).all()`` pass; the first bad index is looked for only on failure.
    Skipped inside a checked module (``inside``: ``x`` is what it computed) and while
    tracing or exporting (the check would become part of the graph)."""
    if getattr(_inner, "depth", 0) or policy() != "refuse" or \
            not (x.is_floating_point() or x.is_complex()) or \
            torch.jit.is_tracing() or torch.jit.is_scripting() or \
            torch.onnx.is_in_onnx_export():
        return
    if not bool(torch.isfinite(x).all()):
        check_signal(x.detach().cpu().numpy(), name)


def check_conv_call(x: torch.Tensor, out_channels: int) -> None:
    """A conv's call on ``x`` ``(B, C_in, T)``: its output ``(B, out_channels, T)`` within
    the memory budget (its weights were checked when it was built; the output's size comes
    with the input; the budget is this process's memory, so a GPU's output is not counted),
    then the non-finite policy (``check_tensor``)."""
    if x.dim() == 3 and x.device.type == "cpu" and \
            not (torch.jit.is_tracing() or torch.jit.is_scripting()):
        batch, length = x.shape[0], x.shape[-1]
        check_budget(float(x.element_size()) * batch * out_channels * length,
                     f"a conv of out_channels={out_channels} on x of shape {tuple(x.shape)}: "
                     f"its output of ({batch}, {out_channels}, {length}) {x.dtype}",
                     "feed shorter inputs (or stream them), or use fewer out_channels")
    check_tensor(x)


def check_stream_budget(name: str, batch: int, like: torch.Tensor, room: int,
                        parts: list[Any]) -> None:
    """A torch stream of ``batch`` sequences: the histories of its convs (``in_channels``
    by ``span`` samples) and delay lines (``channels`` by ``delay``), each allocated with
    ``max(samples, room)`` to spare, within the budget (CPU tensors only, as
    ``check_conv_call``)."""
    lines = [(p.in_channels, p.span) if hasattr(p, "span") else (p.channels, p.delay)
             for p in parts]
    if like.device.type == "cpu":
        check_budget(float(like.element_size()) * batch * sum(
            channels * (size + max(size, room)) for channels, size in lines if size),
            f"a stream of {name} with batch {batch} (its histories and delay lines)",
            "stream fewer sequences at once")


@contextmanager
def inside() -> Iterator[None]:
    """The body of a module whose input was checked: ``check_tensor`` passes within."""
    _inner.depth = getattr(_inner, "depth", 0) + 1
    try:
        yield
    finally:
        _inner.depth -= 1
