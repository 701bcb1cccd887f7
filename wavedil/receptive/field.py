"""Receptive fields from spec trees: pure integer arithmetic, one source of truth.

A spec tree (``wavedil.engine.spec``: ``LayerSpec``, ``Shift``, ``Chain``, ``Branches``) says which
input samples each output sample reads. This module turns it into numbers:

- the extent ``(left, right)``: how many input samples of past and of lookahead an output
  sample depends on (``size = left + right + 1``); ``right`` is the latency of a stream;
- a per-layer table: kernel, dilation, stride, the cumulative extent along the path up to
  that layer, parameters and multiply-adds per output sample;
- the gaps: lags inside ``[-left, right]`` that no path reaches ("gridding", e.g. kernel 2
  with dilations 1, 4, 16), computed exactly from the set of reachable lags (a gap-free
  chain of stride-1 layers is recognised in closed form: ``proved_gap_free``);
- ``halo(op)``: the context that independent blocks need to reproduce the offline result.

Strides: extents are counted in INPUT samples; a layer of stride ``s`` multiplies the
spacing of everything after it by ``s``. A transposed conv divides it; an upsampling model
reads a different set of inputs for each output phase, and its extent is the maximum over
the phases. Branches (residual, skip, parallel paths) take the union of their paths.

Shape: a lag ``k`` means output ``n`` reads input ``n * stride + k`` (``stride`` = input
samples per output sample, 1 for nearly everything here).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from ..engine.checks import positive_int
from ..engine.params import check_budget, finite_number, flag
from ..engine.spec import Branches, Chain, LayerSpec, Shift, SpecTree, resolve_alignment

# Above this many samples of extent (or output phases) the exact lag set is not built:
# the extent comes from interval arithmetic and the gaps are not reported (unless
# ``proved_gap_free`` shows there are none).
MAX_EXACT_SIZE = 1 << 22
MAX_PHASES = 4096
MAX_SPEC_LAYERS = 1 << 14  # the most layers specs_from_schedule builds (models: 1024)


@dataclass(frozen=True)
class LayerRow:
    """One row of the per-layer table; ``left``/``right`` are cumulative, in input samples."""

    name: str
    kind: str
    kernel_size: int
    dilation: int
    stride: int
    left: int
    right: int
    params: int
    macs_per_sample: int

    @property
    def size(self) -> int:
        return self.left + self.right + 1


@dataclass(frozen=True)
class ReceptiveField:
    """How far an operator sees: past ``left`` and lookahead ``right`` in input samples.

    ``gaps`` lists the lags inside ``[-left, right]`` that no path reaches (``None`` when
    the extent was too large for the exact analysis); ``notes`` says what the numbers do
    not cover (e.g. a norm over time in a traced torch model).
    """

    left: int
    right: int
    size: int
    sample_rate: float | None
    seconds: float | None
    layers: tuple[LayerRow, ...]
    gaps: tuple[int, ...] | None
    stride: Fraction = Fraction(1)
    notes: tuple[str, ...] = ()

    @property
    def latency(self) -> int:
        """The latency of a stream of this operator, in samples (its lookahead)."""
        return max(self.right, 0)

    @property
    def gap_free(self) -> bool | None:
        """Whether every lag in ``[-left, right]`` is reached (None: not analysed, see ``gaps``)."""
        return None if self.gaps is None else not self.gaps

    @property
    def params(self) -> int:
        """The parameters of all layers (the sum over ``layers``)."""
        return sum(row.params for row in self.layers)

    @property
    def macs_per_sample(self) -> float:
        """Multiply-adds per INPUT sample over all layers (strided layers run less often)."""
        total, jump = Fraction(0), Fraction(1)
        for row in self.layers:
            jump = jump / row.stride if row.kind == "transposed" else jump * row.stride
            total += Fraction(row.macs_per_sample) / jump
        return float(total)

    def __str__(self) -> str:
        return format_receptive_field(self)

    def __repr__(self) -> str:
        text = f"ReceptiveField(left={self.left}, right={self.right}, size={self.size}"
        if self.sample_rate is not None:
            text += f", sample_rate={self.sample_rate:g}, seconds={self.seconds:.6g}"
        if self.stride != 1:
            text += f", stride={self.stride}"
        gaps = "not analysed" if self.gaps is None else len(self.gaps)
        text += f", layers={len(self.layers)}, gaps={gaps}"
        return text + (f", notes={len(self.notes)})" if self.notes else ")")


# -- spec trees ---------------------------------------------------------------------------


def specs_from_schedule(kernel_size: int, dilations: Iterable[int], stacks: int = 1,
                        convs_per_block: int = 1, channels: int = 1,
                        in_channels: int | None = None,
                        alignment: str | tuple[int, int] = "causal",
                        residual: bool = False) -> Chain:
    """The spec tree of a dilated stack: ``stacks`` x blocks of ``convs_per_block`` convs.

    Block ``i`` has ``convs_per_block`` convolutions of dilation ``dilations[i]`` (keras-tcn
    uses 2, WaveNet 1); ``residual=True`` adds an identity path around each block (it does
    not change the extent). ``channels`` only feeds the parameter counts.

    >>> receptive_field(specs_from_schedule(3, [1, 2, 4, 8, 16, 32, 64], 1, 2)).size
    509
    """
    kernel_size = positive_int(kernel_size, "kernel_size")
    stacks = positive_int(stacks, "stacks")
    convs_per_block = positive_int(convs_per_block, "convs_per_block")
    channels = positive_int(channels, "channels")
    in_channels = channels if in_channels is None else positive_int(in_channels, "in_channels")
    if isinstance(dilations, (str, bytes)) or not hasattr(dilations, "__iter__"):
        raise TypeError(f"dilations must be a list of integers >= 1, got {dilations!r}")
    dilations = [positive_int(d, "dilation") for d in dilations]
    residual = flag(residual, "residual")
    layers = stacks * convs_per_block * len(dilations)
    if layers > MAX_SPEC_LAYERS:  # (building and measuring them would take minutes)
        raise ValueError(f"a spec tree of stacks={stacks} x {len(dilations)} dilations x "
                         f"convs_per_block={convs_per_block} makes {layers} layers, more than "
                         f"{MAX_SPEC_LAYERS} (wavedil.receptive.field.MAX_SPEC_LAYERS): use "
                         f"fewer stacks or convs_per_block")
    check_budget(256.0 * layers,
                 f"a spec tree of stacks={stacks} x {len(dilations)} dilations x "
                 f"convs_per_block={convs_per_block} layers (a few hundred bytes each)",
                 "use fewer stacks or convs_per_block")
    if not dilations:
        raise ValueError("dilations must hold at least one dilation, got an empty list")
    blocks, first = [], True
    for s in range(stacks):
        for i, d in enumerate(dilations):
            convs = []
            for j in range(convs_per_block):
                left, right = resolve_alignment(alignment, (kernel_size - 1) * d)
                name = f"stack{s}.block{i}" + (f".conv{j}" if convs_per_block > 1 else "")
                convs.append(LayerSpec(kernel_size, d, 1, left, right,
                                       in_channels if first else channels, channels,
                                       name=name))
                first = False
            block = Chain(tuple(convs))
            blocks.append(Branches((Chain(()), block)) if residual else block)
    return Chain(tuple(blocks))


def as_spec(op: object, example_input: Any = None) -> tuple[SpecTree, Sequence[str]]:
    """The spec tree of ``op`` and notes: ``(tree, notes)``.

    ``op``: a spec tree, a list of ``LayerSpec``, anything with ``.spec`` (wavedil layers,
    stacks, transforms, streams and wavedil's torch modules), ``.layer.spec`` or
    ``.model.spec`` (the stream of a layer or a stack), or any other ``torch.nn.Module``
    (traced by ``wavedil.receptive.torch_trace``).
    """
    if isinstance(op, (LayerSpec, Shift, Chain, Branches)):
        return op, ()
    if isinstance(op, (list, tuple)):
        return Chain(tuple(op)), ()
    for owner in (op, getattr(op, "layer", None), getattr(op, "model", None)):
        spec = getattr(owner, "spec", None) if owner is not None else None
        if isinstance(spec, (LayerSpec, Shift, Chain, Branches, list, tuple)):
            return as_spec(spec)
    if is_torch_module(op):
        from .torch_trace import trace_spec

        traced = trace_spec(op, example_input=example_input)
        return traced.spec, traced.notes  # type: ignore[return-value]
    raise TypeError(
        "op must be a spec tree (LayerSpec, Shift, Chain, Branches), a list of LayerSpec, a "
        f"wavedil object with .spec or a torch.nn.Module, got {type(op).__name__}"
    )


def is_torch_module(obj: object) -> bool:
    torch = sys.modules.get("torch")  # never import torch here
    return torch is not None and isinstance(obj, torch.nn.Module)


def _check_tree(tree, path="op") -> int:
    """Validate the node types; return the number of layers (LayerSpec) in ``tree``."""
    if isinstance(tree, LayerSpec):
        return 1
    if isinstance(tree, Shift):
        return 0
    if isinstance(tree, (Chain, Branches)):
        parts = tuple(tree.parts)
        if isinstance(tree, Branches) and not parts:
            raise ValueError(f"{path}: Branches needs at least one path, got none")
        return sum(_check_tree(p, f"{path}.{type(tree).__name__}[{i}]")
                   for i, p in enumerate(parts))
    raise TypeError(f"{path}: spec tree nodes must be LayerSpec, Shift, Chain or Branches, "
                    f"got {type(tree).__name__}: {tree!r}")


def total_stride(tree: SpecTree) -> Fraction:
    """Input samples per output sample (product of strides; transposed convs divide)."""
    if isinstance(tree, LayerSpec):
        return Fraction(1, tree.stride) if tree.kind == "transposed" else Fraction(tree.stride)
    if isinstance(tree, Shift):
        return Fraction(1)
    if isinstance(tree, Chain):
        return math.prod((total_stride(p) for p in tree.parts), start=Fraction(1))
    strides = [total_stride(p) for p in tree.parts]
    if len(set(strides)) > 1:
        raise ValueError(f"the paths of a Branches must have one total stride to be combined, "
                         f"got {', '.join(str(s) for s in strides)}")
    return strides[0]


def _phases(tree) -> int:
    """Output period of the input pattern: the product of the transposed strides."""
    if isinstance(tree, LayerSpec):
        return tree.stride if tree.kind == "transposed" else 1
    if isinstance(tree, Shift):
        return 1
    return math.prod(_phases(p) for p in tree.parts)


# -- exact input support ------------------------------------------------------------------


def input_support(tree: object, positions: npt.ArrayLike) -> np.ndarray:
    """Sorted input positions that the output ``positions`` read (any integers, no edges).

    >>> input_support(LayerSpec(2, dilation=4), [10]).tolist()
    [6, 10]
    """
    tree, _ = as_spec(tree)
    _check_tree(tree)
    return _support(tree, np.unique(np.asarray(positions, dtype=np.int64).ravel()))


def _support(tree, pos: np.ndarray) -> np.ndarray:
    if isinstance(tree, Shift):
        return pos + tree.offset
    if isinstance(tree, LayerSpec):
        offsets = -tree.left + np.arange(tree.kernel_size, dtype=np.int64) * tree.dilation  # type: ignore[operator]
        if tree.kind == "transposed":
            q = (pos[:, None] + offsets[None, :]).ravel()
            return np.unique(q[q % tree.stride == 0] // tree.stride)
        return np.unique((pos[:, None] * tree.stride + offsets[None, :]).ravel())
    if isinstance(tree, Chain):
        for part in reversed(tree.parts):
            pos = _support(part, pos)
        return pos
    return np.unique(np.concatenate([_support(p, pos) for p in tree.parts]))


# -- interval arithmetic (the table, and very large extents) --------------------------------


def _walk(tree, state, rows, seen):
    """Propagate ``(left, right, jump)`` (Fractions, input samples) through ``tree``.

    Records one ``LayerRow`` per layer in ``rows`` (a dict); returns ``(state, seen)``.
    A layer is a LayerSpec object and its occurrence count along the path (``seen``): the
    same object repeated along one path is several layers (``[spec] * 4``), the same object
    on parallel paths is one layer (traced graphs share a layer between the paths through
    it), whose row keeps the largest extent over the paths.
    """
    left, right, jump = state
    if isinstance(tree, Shift):
        return (left - tree.offset * jump, right + tree.offset * jump, jump), seen
    if isinstance(tree, LayerSpec):
        if tree.kind == "transposed":
            jump = jump / tree.stride
            left, right = left + tree.left * jump, right + tree.right * jump
        else:
            left, right = left + tree.left * jump, right + tree.right * jump
            jump = jump * tree.stride
        count = seen.get(id(tree), 0)
        seen = {**seen, id(tree): count + 1}
        key = (id(tree), count)
        past, ahead = math.ceil(left), math.ceil(right)
        if key in rows:
            past, ahead = max(past, rows[key].left), max(ahead, rows[key].right)
        rows[key] = LayerRow(tree.name or f"layer{len(rows)}", tree.kind, tree.kernel_size,
                             tree.dilation, tree.stride, past, ahead, tree.params,
                             tree.macs_per_sample)
        return (left, right, jump), seen
    if isinstance(tree, Chain):
        for part in tree.parts:
            state, seen = _walk(part, state, rows, seen)
        return state, seen
    ends = [_walk(part, state, rows, seen) for part in tree.parts]
    merged: dict = {}
    for _, branch_seen in ends:
        for k, v in branch_seen.items():
            merged[k] = max(v, merged.get(k, 0))
    states = [e[0] for e in ends]
    return (max(e[0] for e in states), max(e[1] for e in states), states[0][2]), merged


# -- the result -----------------------------------------------------------------------------


def receptive_field(op: object = None, sample_rate: float | None = None, *,
                    example_input: Any = None, kernel_size: int | None = None,
                    dilations: Iterable[int] | None = None, stacks: int = 1,
                    convs_per_block: int = 1, channels: int = 1,
                    alignment: str | tuple[int, int] = "causal") -> ReceptiveField:
    """The receptive field of ``op`` (see ``as_spec``) or of a dilation schedule.

    Either pass ``op`` or the schedule keywords (``kernel_size``, ``dilations``,
    ``stacks``, ``convs_per_block``, ``channels``, ``alignment``; see
    ``specs_from_schedule``). ``sample_rate`` adds ``seconds``; ``example_input`` is
    forwarded to the torch tracer.

    >>> rf = receptive_field(kernel_size=2, dilations=[2**i for i in range(10)])
    >>> rf.size, rf.left, rf.right
    (1024, 1023, 0)
    """
    if op is None:
        if kernel_size is None or dilations is None:
            raise ValueError("receptive_field needs op (an object) or kernel_size= and dilations=")
        op = specs_from_schedule(kernel_size, dilations, stacks, convs_per_block, channels,
                                 alignment=alignment)
    elif kernel_size is not None or dilations is not None:
        raise ValueError("pass either an object or a schedule (kernel_size=, dilations=), "
                         "not both")
    if sample_rate is not None and not (finite_number(sample_rate) and sample_rate > 0):
        raise ValueError(f"sample_rate must be a positive number, got {sample_rate!r}")
    tree, notes = as_spec(op, example_input=example_input)
    if _check_tree(tree) == 0:
        raise ValueError("op is an empty spec: the spec tree holds no layer (LayerSpec), "
                         "nothing to measure")
    stride = total_stride(tree)
    rows: dict = {}
    hull, _ = _walk(tree, (Fraction(0), Fraction(0), Fraction(1)), rows, {})
    left, right, gaps = _exact_extent(tree, stride, hull)
    notes = tuple(notes)
    if gaps is None:
        notes += (f"gaps not analysed: the extent ({left + right + 1} samples) or the number "
                  f"of output phases is above the exact-analysis limit",)
    seconds = None if sample_rate is None else (left + right + 1) / sample_rate
    return ReceptiveField(left, right, left + right + 1, sample_rate, seconds,
                          tuple(rows.values()), gaps, stride, notes)


def _flat_layers(tree) -> list[LayerSpec] | None:
    """The layers of a chain of stride-1 convs/pools and shifts, or ``None`` for any other
    tree (branches, strides, transposed convs)."""
    if isinstance(tree, Shift):
        return []
    if isinstance(tree, LayerSpec):
        return [tree] if tree.stride == 1 and tree.kind != "transposed" else None
    if isinstance(tree, Chain) or (isinstance(tree, Branches) and len(tree.parts) == 1):
        layers: list[LayerSpec] = []
        for part in tree.parts:
            more = _flat_layers(part)
            if more is None:
                return None
            layers += more
        return layers
    return None


def proved_gap_free(tree: SpecTree) -> bool:
    """True when ``tree`` is a chain of stride-1 layers whose lags fill their extent,
    proved in O(layers log layers) without building the lag set (``False``: not such a
    chain, or it has gaps).

    Up to a shift, such a chain reads the sums of the progressions
    ``{0, d, ..., (K - 1) d}`` of its layers. With the dilations in ascending order, if the
    first layers fill ``[0, M]`` (``M = sum (K - 1) d``), the next one fills
    ``[0, M + (K - 1) d]`` when ``d <= M + 1``; when ``d > M + 1``, lag ``M + 1`` is never
    reached (every later dilation is larger still). So: gap-free iff each dilation, in
    ascending order, is at most ``M + 1`` over the layers before it.

    >>> proved_gap_free(Chain((LayerSpec(2, 1), LayerSpec(2, 2), LayerSpec(2, 4))))
    True
    >>> proved_gap_free(Chain((LayerSpec(2, 1), LayerSpec(2, 4))))  # lag 2 never read
    False
    """
    layers = _flat_layers(tree)
    if layers is None:
        return False
    filled = 0
    for dilation, kernel_size in sorted((la.dilation, la.kernel_size) for la in layers
                                        if la.kernel_size > 1):
        if dilation > filled + 1:
            return False
        filled += (kernel_size - 1) * dilation
    return True


def _exact_extent(tree, stride: Fraction, hull):
    """``(left, right, gaps)`` from the exact reachable-lag sets, over all output phases
    (a gap-free chain of stride-1 layers is recognised without them)."""
    hull_left, hull_right = math.ceil(hull[0]), math.ceil(hull[1])
    if proved_gap_free(tree):  # its lags fill the hull exactly
        return hull_left, hull_right, ()
    phases = _phases(tree)
    if hull_left + hull_right + 1 > MAX_EXACT_SIZE or phases > MAX_PHASES:
        return hull_left, hull_right, None
    lefts, rights, reached = [], [], []
    for o in range(phases):
        support = _support(tree, np.array([o], dtype=np.int64))
        if support.size == 0:
            continue
        lags = support - math.floor(o * stride)
        lefts.append(-int(lags[0]))
        rights.append(int(lags[-1]))
        reached.append(lags)
    if not reached:
        raise ValueError("the spec tree reads no input sample at any output phase")
    left, right = max(lefts), max(rights)
    lags = np.unique(np.concatenate(reached))
    gaps = np.setdiff1d(np.arange(-left, right + 1, dtype=np.int64), lags)
    return left, right, tuple(int(g) for g in gaps)


def past_extent(tree: SpecTree) -> int:
    """The past samples the longest path of a stride-1 tree of ``LayerSpec``, ``Chain`` and
    ``Branches`` reads: extents add along a chain, the widest branch wins.

    Plain integer arithmetic (no lag sets), cheap enough for every offline call; equal to
    ``receptive_field(tree).left`` on such trees.

    >>> past_extent(Chain((LayerSpec(3, 2), LayerSpec(2, 5))))
    9
    """
    if isinstance(tree, LayerSpec):
        if tree.stride != 1:
            raise ValueError(f"past_extent takes stride-1 layers, got {tree!r}; use "
                             f"receptive_field")
        return int(tree.left or 0)
    if isinstance(tree, Chain):
        return sum(past_extent(p) for p in tree.parts)
    if isinstance(tree, Branches):
        return max((past_extent(p) for p in tree.parts), default=0)
    raise TypeError(f"past_extent takes LayerSpec, Chain or Branches nodes, got "
                    f"{type(tree).__name__}; use receptive_field")


def future_extent(tree: SpecTree) -> int:
    """The lookahead of the longest path of a stride-1 tree (``past_extent``'s twin): the
    latency of its stream; equal to ``receptive_field(tree).right`` on such trees.

    >>> future_extent(Chain((LayerSpec(3, 2, right=2), Branches((Chain(()), LayerSpec(2, 5))))))
    2
    """
    if isinstance(tree, LayerSpec):
        if tree.stride != 1:
            raise ValueError(f"future_extent takes stride-1 layers, got {tree!r}; use "
                             f"receptive_field")
        return int(tree.right)
    if isinstance(tree, Chain):
        return sum(future_extent(p) for p in tree.parts)
    if isinstance(tree, Branches):
        return max((future_extent(p) for p in tree.parts), default=0)
    raise TypeError(f"future_extent takes LayerSpec, Chain or Branches nodes, got "
                    f"{type(tree).__name__}; use receptive_field")


def halo(op: object) -> tuple[int, int]:
    """``(left, right)`` samples of context that a block needs to reproduce the offline result.

    Process ``x[a - left : b + right]`` (zeros beyond the signal's ends), keep the outputs
    of ``[a, b)``: they equal the offline output there.
    """
    rf = op if isinstance(op, ReceptiveField) else receptive_field(op)
    if rf.stride != 1:
        raise ValueError(f"halo needs an operator with one output per input sample, got a "
                         f"total stride of {rf.stride}")
    return max(rf.left, 0), max(rf.right, 0)


# -- printing ---------------------------------------------------------------------------


def _ranges(values) -> str:
    """``[-7, -6, -5, -2]`` -> ``'-7..-5, -2'``."""
    values = list(values)
    out, start = [], 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[i - 1] + 1:
            a, b = values[start], values[i - 1]
            out.append(f"{a}" if a == b else f"{a}..{b}")
            start = i
    return ", ".join(out)


def short_tuple(values: Iterable[object], head: int = 4, tail: int = 2) -> str:
    """``(1, 2, 4, 8, ..., 512, 1024) [11]``: a long tuple cut for a repr."""
    values = tuple(values)
    if len(values) <= head + tail + 1:
        return repr(values)
    inner = ", ".join(map(str, values[:head])) + ", ..., " + ", ".join(map(str, values[-tail:]))
    return f"({inner}) [{len(values)}]"


def format_duration(seconds: float) -> str:
    """A duration as people write it: 4 significant digits, in s from one second up, else
    in ms.

    >>> format_duration(10.0), format_duration(11.0735), format_duration(0.03181)
    ('10 s', '11.07 s', '31.81 ms')
    """
    rounded = float(f"{seconds:.4g}")  # 0.99999 s is "1 s", not "1000 ms"
    value, unit = (rounded, "s") if abs(rounded) >= 1 else (rounded * 1000, "ms")
    return f"{value:.4g} {unit}" if abs(value) < 1e4 else f"{value:.0f} {unit}"


def format_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A plain-text table with right-aligned columns."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_receptive_field(rf: ReceptiveField, max_rows: int = 60) -> str:
    size = f"receptive field: {rf.size} samples (past {rf.left}, lookahead {rf.right})"
    if rf.seconds is not None:
        size += f" = {format_duration(rf.seconds)} at {rf.sample_rate:g} Hz"
    lines = [size]
    if rf.stride != 1:
        lines.append(f"stride: {rf.stride} input samples per output sample")
    if rf.gaps is None:
        lines.append("gaps: not analysed (extent too large)")
    elif rf.gaps:
        lines.append(f"gaps: {len(rf.gaps)} lags never reached: {_ranges(rf.gaps)}")
    else:
        lines.append("gaps: none (every lag in the extent is reached)")
    header = ("layer", "kind", "kernel", "dilation", "stride", "past", "ahead", "size",
              "params", "MACs/out")
    rows = [(r.name, r.kind, r.kernel_size, r.dilation, r.stride, r.left, r.right, r.size,
             r.params, r.macs_per_sample) for r in rf.layers]
    if len(rows) > max_rows:
        half = max_rows // 2
        rows = rows[:half] + [("...",) + ("",) * 9] + rows[-half:]  # type: ignore[assignment]
    lines.append(format_table(header, rows))
    lines.append(f"total: {len(rf.layers)} layers, {rf.params} parameters, "
                 f"{rf.macs_per_sample:.6g} multiply-adds per input sample")
    lines.extend(f"note: {n}" for n in rf.notes)
    return "\n".join(lines)
