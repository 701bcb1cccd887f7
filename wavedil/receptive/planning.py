"""Plan dilation schedules: the fewest layers that see far enough, with no gaps.

A block of ``convs_per_block`` convolutions of kernel ``K`` and dilation ``d`` reads the lags
``0, d, ..., (Ke - 1) d`` with ``Ke = convs_per_block (K - 1) + 1`` taps. A chain of ``n``
blocks reaches at most ``Ke**n`` distinct lags, so a gap-free receptive field of ``R``
samples needs ``n >= log_Ke(R)`` blocks, and dilations ``1, Ke, Ke**2, ...`` reach it: that
is the first candidate. Sorted ascending, dilations stay gap-free while each one is at most
``(Ke - 1) * (sum of the previous) + 1``; the planner offers the base-``Ke`` schedule with
its last dilation trimmed to the target, smaller bases, and WaveNet-style repeated stacks
(smaller dilations, more layers). Every candidate is checked by
``wavedil.receptive.field.receptive_field``, which proves a chain gap-free by that rule
(``proved_gap_free``: O(layers log layers), no lag set, so a 10 s target at 48 kHz plans
as fast as a small one); ``candidate.dilations`` goes straight into a TCN/WaveNet
constructor (one dilation per block).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..engine.checks import positive_int
from .field import (
    format_duration,
    format_table,
    receptive_field,
    short_tuple,
    specs_from_schedule,
)


@dataclass(frozen=True)
class Candidate:
    """One gap-free schedule: ``dilations`` has one entry per block."""

    dilations: tuple[int, ...]
    family: str
    kernel_size: int
    convs_per_block: int
    layers: int
    receptive_field: int
    seconds: float | None
    latency: int
    params: int
    macs_per_sample: int

    def __repr__(self) -> str:
        return (f"Candidate(family={self.family!r}, kernel_size={self.kernel_size}, "
                f"layers={self.layers}, dilations={short_tuple(self.dilations)}, "
                f"receptive_field={self.receptive_field}, latency={self.latency}, "
                f"params={self.params})")


@dataclass(frozen=True)
class Plan:
    """Candidates best first (fewest layers, then closest to the target, then smallest
    largest dilation); ``str(plan)`` is a table."""

    target: int
    sample_rate: float | None
    channels: int
    candidates: tuple[Candidate, ...]

    @property
    def best(self) -> Candidate:
        """The first candidate: the fewest layers, then the closest to the target."""
        return self.candidates[0]

    def __repr__(self) -> str:
        best = short_tuple(self.best.dilations) if self.candidates else None
        return (f"Plan(target={self.target}, sample_rate={self.sample_rate}, "
                f"channels={self.channels}, candidates={len(self.candidates)}, best={best})")

    def __iter__(self):
        return iter(self.candidates)

    def __len__(self) -> int:
        return len(self.candidates)

    def __getitem__(self, i) -> Candidate:
        return self.candidates[i]

    def __str__(self) -> str:
        first = self.candidates[0]
        head = f"target: {self.target} samples"
        if self.sample_rate is not None:
            head += (f" ({format_duration(self.target / self.sample_rate)} at "
                     f"{self.sample_rate:g} Hz)")
        head += (f"; kernel {first.kernel_size}, {first.convs_per_block} conv(s) per block, "
                 f"{self.channels} channels")
        rows = []
        for i, c in enumerate(self.candidates, 1):
            span = f"{c.receptive_field}"
            if c.seconds is not None:
                span += f" ({format_duration(c.seconds)})"
            rows.append((i, c.layers, _short(c.dilations), c.family, span, c.latency,
                         c.params, c.macs_per_sample))
        table = format_table(("#", "layers", "dilations", "schedule", "receptive field",
                              "latency", "params", "MACs/sample"), rows)
        return f"{head}\n{table}"


def _short(dilations) -> str:
    text = ",".join(str(d) for d in dilations)
    return text if len(text) <= 48 else text[:45] + "..."


def plan_dilations(seconds: float | None = None, samples: int | None = None,
                   sample_rate: float | None = None, kernel_size: int = 3,
                   convs_per_block: int = 1, channels: int = 64,
                   alignment: str | tuple[int, int] = "causal", max_layers: int = 128,
                   max_dilation: int | None = None, max_candidates: int = 8) -> Plan:
    """Gap-free dilation schedules reaching ``samples`` (or ``seconds * sample_rate``).

    Returns a ``Plan`` whose candidates list layers, dilations, receptive field, latency
    (the lookahead: 0 for ``alignment="causal"``), parameters and multiply-adds per sample
    for ``channels`` channels in and out of every conv; best (fewest layers) first.

    >>> plan_dilations(samples=1024, kernel_size=2).best.dilations
    (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
    """
    target = _target(seconds, samples, sample_rate)
    kernel_size = positive_int(kernel_size, "kernel_size")
    convs_per_block = positive_int(convs_per_block, "convs_per_block")
    channels = positive_int(channels, "channels")
    max_layers = positive_int(max_layers, "max_layers")
    max_candidates = positive_int(max_candidates, "max_candidates")
    if max_dilation is not None:
        max_dilation = positive_int(max_dilation, "max_dilation")
    taps = convs_per_block * (kernel_size - 1) + 1
    if taps == 1:
        raise ValueError("kernel_size 1 cannot grow a receptive field: expected a kernel_size "
                         ">= 2, got 1")
    max_blocks = max_layers // convs_per_block
    schedules = _schedules(target, taps, max_blocks, max_dilation)
    if not schedules:
        fewest = _blocks_needed(target, taps, taps)
        raise ValueError(
            f"no gap-free schedule reaches {target} samples within max_layers={max_layers}"
            + (f" and max_dilation={max_dilation}" if max_dilation else "")
            + f": kernel_size={kernel_size} x convs_per_block={convs_per_block} needs at least "
            f"{fewest * convs_per_block} layers"
        )
    candidates = []
    for dilations, family in schedules:
        rf = receptive_field(specs_from_schedule(kernel_size, dilations, 1, convs_per_block,
                                                 channels, alignment=alignment),
                             sample_rate)
        if rf.gaps != () or rf.size < target:  # never expected: the families are gap-free
            continue
        candidates.append(Candidate(tuple(dilations), family, kernel_size, convs_per_block,
                                    len(rf.layers), rf.size, rf.seconds, rf.latency,
                                    rf.params, int(rf.macs_per_sample)))
    candidates.sort(key=lambda c: (c.layers, c.receptive_field, max(c.dilations)))
    return Plan(target, sample_rate, channels, tuple(candidates[:max_candidates]))


def _target(seconds, samples, sample_rate) -> int:
    if (seconds is None) == (samples is None):
        raise ValueError("give the target either as samples= or as seconds= with "
                         "sample_rate=, not both and not neither")
    if samples is not None:
        return positive_int(samples, "samples")
    if sample_rate is None:
        raise ValueError(f"seconds={seconds!r} needs a sample_rate to become samples")
    for value, name in ((seconds, "seconds"), (sample_rate, "sample_rate")):
        if not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    return max(1, math.ceil(seconds * sample_rate - 1e-9))


def _reach(dilations, taps) -> int:
    return (taps - 1) * sum(dilations) + 1


def _blocks_needed(target, taps, base) -> int:
    n, reach = 0, 1
    while reach < target:
        n += 1
        reach = _reach([base**i for i in range(n)], taps)
    return max(n, 1)


def _schedules(target, taps, max_blocks, max_dilation):
    """``(dilations, family)`` pairs, all gap-free (see the module docstring)."""
    out, seen = [], set()

    def add(dilations, family):
        key = tuple(dilations)
        if (key and key not in seen and len(key) <= max_blocks
                and (max_dilation is None or max(key) <= max_dilation)):
            seen.add(key)
            out.append((key, family))

    for base in range(min(taps, max(target, 2)), 1, -1):  # a base beyond the target adds none
        if len(out) > 64:
            break
        n = _blocks_needed(target, taps, base)
        geometric = [base**i for i in range(n)]
        add(geometric, f"powers of {base}")
        # trimmed: the last dilation only as large as the target needs
        last = max(1, math.ceil((target - _reach(geometric[:-1], taps)) / (taps - 1)))
        add(geometric[:-1] + [last], f"powers of {base}, last trimmed")
        # WaveNet style: shorter geometric stacks, repeated
        for per_stack in range(n - 1, 0, -1):
            stack = [base**i for i in range(per_stack)]
            stacks = math.ceil((target - 1) / ((taps - 1) * sum(stack)))
            if stacks * per_stack > max_blocks:
                break
            add(stack * stacks, f"powers of {base} up to {stack[-1]}, x{stacks} stacks")
            if len(out) > 64:
                break
    return out
