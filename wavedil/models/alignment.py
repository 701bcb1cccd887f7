"""A model's alignment: the extent of each of its convs, and the delays that line up its
branches while streaming.

The ``alignment`` option of ``TCN``, ``WaveNet`` and ``Stack`` (and of their torch twins)
is ``"causal"`` (every conv reads the present and the past: latency 0), ``"centered"``
(each conv's centre on the output sample, ``span // 2`` samples of lookahead, as
``wavedil.engine.spec.resolve_alignment``) or a list of one ``(left, right)`` extent per
conv (``left + right = (K - 1) * dilation``), in the model's conv order (``conv_names``).

Offline, every conv pads its input with ``left`` zeros before and ``right`` zeros after
(``torch.nn.functional.pad``), so all branches have the signal's length. A stream holds
back ``right`` samples per conv: where branches of unequal lookahead meet (a residual sum,
a sum of skips, conditioning added to a conv's output), the earlier branch waits in a delay
line of the difference. ``branch_delays`` derives those delays from the conv extents (none
is hand-coded); the model's latency is its spec tree's future extent.

>>> conv_extents("centered", {"a": 3, "b": 4})
{'a': (2, 1), 'b': (2, 2)}
>>> alignment_option([[1, 2], [0, 4]], {"a": 3, "b": 4})
[[1, 2], [0, 4]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..engine.spec import ALIGNMENTS, resolve_alignment

Alignment = str | Sequence[Sequence[int]]


def alignment_option(alignment: Any, spans: Mapping[str, int]) -> str | list[list[int]]:
    """``alignment`` checked against the convs' ``spans`` (name -> ``(K - 1) * dilation``,
    in the model's conv order), as a config holds it: a name, or ``[[left, right], ...]``
    (a list whose pairs are all causal is ``"causal"``)."""
    if isinstance(alignment, str):
        if alignment not in ALIGNMENTS:
            raise ValueError(f"alignment must be one of {ALIGNMENTS} or a list of one (left, "
                             f"right) pair per conv, got {alignment!r}")
        return alignment
    names = list(spans)
    try:
        pairs = [list(pair) for pair in alignment]
    except TypeError:
        pairs = None
    if pairs is None or len(pairs) != len(names) or any(len(p) != 2 for p in pairs):
        raise ValueError(f"alignment must be 'causal', 'centered' or a list of {len(names)} "
                         f"(left, right) pairs, one per conv ({', '.join(names)}), got "
                         f"{alignment!r}")
    out = []
    for name, pair in zip(names, pairs):
        try:
            left, right = resolve_alignment((pair[0], pair[1]), spans[name])
        except ValueError as error:
            raise ValueError(f"alignment of {name}: {error}") from None
        out.append([left, right])
    return "causal" if all(right == 0 for _, right in out) else out


def conv_extents(alignment: Alignment, spans: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """Each conv's ``(left, right)`` extent under ``alignment`` (see ``alignment_option``)."""
    option = alignment_option(alignment, spans)
    if isinstance(option, str):
        return {name: resolve_alignment(option, span) for name, span in spans.items()}
    return {name: (left, right) for name, (left, right) in zip(spans, option)}


def branch_delays(waits: Mapping[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """The delay lines a stream needs: name -> ``(channels, samples)`` from ``waits``
    (name -> ``(channels, samples)``), leaving out those of 0 samples."""
    return {name: (channels, samples) for name, (channels, samples) in waits.items()
            if samples > 0}

