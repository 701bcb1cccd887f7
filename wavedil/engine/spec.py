"""Layer specs and dilation schedules: the integers every receptive-field answer comes from.

A ``LayerSpec`` describes one 1-D operator on the time axis: its kernel, dilation, stride
and alignment; ``Chain`` and ``Branches`` compose them into the spec tree of a stack
(sequential parts; parallel paths such as residual and skip connections). The numpy
engine, the torch modules, the à trous transform and the streams all expose their spec
tree as ``.spec``, so ``wavedil.receptive.field`` has one source of truth.

Alignment (DESIGN.md): ``"causal"`` uses only the present and the past; ``"centered"``
puts the filter's centre on the output sample and needs ``(span) // 2`` samples of lookahead,
``span = (K - 1) * dilation``; a ``(left, right)`` pair sets the past and future extents
directly (``left + right == span``). The future extent is the latency of a stream.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import TypeAlias

from .checks import positive_int
from .params import check_budget, flag, integer

ALIGNMENTS = ("causal", "centered")
LAYER_KINDS = ("conv", "pool", "transposed")


def resolve_alignment(alignment: str | tuple[int, int], span: int) -> tuple[int, int]:
    """``(left, right)`` samples of past and future that an operator of ``span`` needs.

    >>> resolve_alignment("causal", 4), resolve_alignment("centered", 5)
    ((4, 0), (3, 2))
    """
    if isinstance(alignment, str):
        if alignment == "causal":
            return span, 0
        if alignment == "centered":
            return span - span // 2, span // 2
        raise ValueError(
            f"alignment must be 'causal', 'centered' or a (left, right) pair, got {alignment!r}"
        )
    try:
        left, right = (int(v) for v in alignment)
    except (TypeError, ValueError):
        raise ValueError(
            f"alignment must be 'causal', 'centered' or a (left, right) pair, got {alignment!r}"
        ) from None
    if left < 0 or right < 0 or left + right != span:
        raise ValueError(
            f"alignment (left, right) must be >= 0 and add up to the span (K-1)*dilation = "
            f"{span}, got ({left}, {right})"
        )
    return left, right


@dataclass(frozen=True)
class LayerSpec:
    """One 1-D time operator: kernel size, dilation, stride and alignment extents.

    ``left``/``right`` are the past/future extents in input samples of this layer alone
    (``left + right = (kernel_size - 1) * dilation``).

    ``kind``: ``"conv"`` (output ``n`` reads inputs ``n * stride - left + t * dilation``),
    ``"pool"`` (the same window, no weights) or ``"transposed"`` (a transposed conv that
    upsamples by ``stride``; its ``left``/``right`` count samples of the upsampled output
    grid, where torch's ``padding`` is ``right``). ``bias``: whether ``params`` counts one.
    """

    kernel_size: int
    dilation: int = 1
    stride: int = 1
    left: int | None = None
    right: int = 0
    in_channels: int = 1
    out_channels: int = 1
    groups: int = 1
    name: str = ""
    kind: str = "conv"
    bias: bool = True

    def __post_init__(self) -> None:
        for key in ("kernel_size", "dilation", "stride", "in_channels", "out_channels", "groups"):
            object.__setattr__(self, key, positive_int(getattr(self, key), key))
        object.__setattr__(self, "right", integer(self.right, "right", low=0))
        if self.left is not None:
            object.__setattr__(self, "left", integer(self.left, "left", low=0))
        object.__setattr__(self, "bias", flag(self.bias, "bias"))
        if self.kind != "pool" and (self.in_channels % self.groups
                                    or self.out_channels % self.groups):
            raise ValueError(f"groups = {self.groups} must divide in_channels = "
                             f"{self.in_channels} and out_channels = {self.out_channels}")
        if self.kind not in LAYER_KINDS:
            raise ValueError(f"kind must be one of {LAYER_KINDS}, got {self.kind!r}")
        if self.left is None:
            object.__setattr__(self, "left", self.span - self.right)
        resolve_alignment((self.left, self.right), self.span)  # type: ignore[arg-type]  # set

    @property
    def span(self) -> int:
        """``(kernel_size - 1) * dilation``: the history a causal layer keeps."""
        return (self.kernel_size - 1) * self.dilation

    @property
    def effective_kernel(self) -> int:
        """``span + 1``: the input samples one output reads (the dilated kernel's length)."""
        return self.span + 1

    @property
    def params(self) -> int:
        """Weights plus biases, ``C_out * (C_in // groups) * K (+ C_out)``; 0 for a pool."""
        if self.kind == "pool":
            return 0
        weights = self.out_channels * (self.in_channels // self.groups) * self.kernel_size
        return weights + (self.out_channels if self.bias else 0)

    @property
    def macs_per_sample(self) -> int:
        """Multiply-adds per output sample (averaged over the phases of a transposed conv)."""
        if self.kind == "pool":
            return 0
        macs = self.out_channels * (self.in_channels // self.groups) * self.kernel_size
        return macs // self.stride if self.kind == "transposed" else macs


@dataclass(frozen=True)
class Shift:
    """A pure shift of the time index: output sample ``n`` is input sample ``n + offset``.

    Padding ``a`` samples at the start is ``Shift(-a)``; dropping the first ``c`` samples
    is ``Shift(c)``. Traced torch models use it for explicit pads and crops.
    """

    offset: int
    name: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.offset, bool) or not isinstance(self.offset, numbers.Integral):
            raise TypeError(f"Shift offset must be an integer, got {self.offset!r}")
        object.__setattr__(self, "offset", int(self.offset))


@dataclass(frozen=True)
class Chain:
    """Operators applied one after another: extents add. ``Chain(())`` is the identity."""

    parts: tuple = ()

    def __repr__(self) -> str:
        return _tree_repr(self)


@dataclass(frozen=True)
class Branches:
    """Parallel paths whose outputs are combined (residual, skip, parallel branches).

    The extent is the union over the paths; an identity path is ``Chain(())``.
    """

    parts: tuple = ()

    def __repr__(self) -> str:
        return _tree_repr(self)


def _tree_repr(tree, limit: int = 200) -> str:
    """``Chain(parts=(...))`` when short, else the number of parts and their kinds."""
    full = f"{type(tree).__name__}(parts={tree.parts!r})"
    if len(full) <= limit:
        return full
    kinds: dict[str, int] = {}
    for part in tree.parts:
        kinds[type(part).__name__] = kinds.get(type(part).__name__, 0) + 1
    what = ", ".join(f"{n} {k}" for k, n in kinds.items())
    return f"{type(tree).__name__}({len(tree.parts)} parts: {what})"


# A spec tree is a LayerSpec, a Shift, a Chain or a Branches of spec trees. Every wavedil operator
# exposes its tree as ``.spec``; ``wavedil.receptive.field`` reads nothing else.


# A spec tree: a layer, a shift, or a Chain / Branches of spec trees.
SpecTree: TypeAlias = "LayerSpec | Shift | Chain | Branches"


def dilation_schedule(layers: int, base: int = 2, stacks: int = 1) -> list[int]:
    """``[1, base, base**2, ..., base**(layers-1)]`` repeated ``stacks`` times.

    >>> dilation_schedule(4, stacks=2)
    [1, 2, 4, 8, 1, 2, 4, 8]
    """
    layers, base, stacks = (positive_int(v, n) for v, n in
                            ((layers, "layers"), (base, "base"), (stacks, "stacks")))
    largest = (layers - 1) * math.log2(base) if base > 1 else 0.0
    if largest > 62:
        raise ValueError(f"dilation_schedule(layers={layers}, base={base}): the last dilation "
                         f"base**(layers - 1) would be 2^{largest:.4g}, beyond 2^62; use fewer "
                         f"layers (or stacks, to repeat the schedule)")
    check_budget(8.0 * layers * stacks, f"dilation_schedule with layers={layers} and "
                 f"stacks={stacks}: {layers * stacks} dilations", "use fewer layers or stacks")
    return [base**i for i in range(layers)] * stacks
