"""The checks a transform or denoiser runs before it allocates: time axis, levels, memory.

- ``check_time_axis``: ``soundfile.read`` gives ``(T, C)``, and with the default
  ``axis=-1`` such an array would be transformed as C-sample rows. A 2-D input with the
  default ``axis=-1`` is refused when its last axis is far shorter than its first (at
  most a quarter of it, and not empty) AND shorter than what the transform needs
  (``needed_length``: the support ``(K-1)(2^J - 1) + 1`` of its deepest level J; with
  ``levels=None``, of two levels, so that the transform is a multiresolution one): the
  message quotes the shape and suggests ``x.T`` or ``axis=0``. Legitimate inputs pass:
  1-D and 3-D inputs, rows as long as the deepest level's support or more than a quarter
  as many samples as there are rows, empty rows, and any axis named explicitly (``axis=1``
  transforms the rows of a 2-D input as they are, however short).
- ``check_levels``: ``1 <= levels <= MAX_LEVELS`` (the deepest dilation 2^(J-1) stays
  below 2^39 samples, more than any signal that fits in memory).
- ``check_channels``: an operator with declared ``channels`` (``Denoiser``) refuses a
  2-D input whose rows are not its channels, with the same hint.
- ``check_stream_levels``: a stream remembers ``(K-1)(2^J - 1)`` samples per channel (the
  dilated spans of its levels); more than ``MAX_STREAM_HISTORY`` is refused up front.
- ``check_memory``: the part of the memory bound that depends on the options.

The memory bound: an offline call (``atrous``, ``iatrous``, ``mra``, ``denoise``) allocates
at most ``ALLOCATION_MULTIPLE * (levels + 1)`` times the input's bytes, plus
``ALLOCATION_SLACK`` (``tests/test_layout_safety.py`` measures it with ``tracemalloc``).
Periodic, symmetric and reflect boundaries need nothing
beyond it (one period of the extension, ``wavedil.wavelets.boundaries.stand_in``, is at
most 2T); zero and edge need ``reach`` extra samples per signal for an exact ``mra`` or
``denoise``, and ``denoise`` the level filters of its noise gains: a call whose extras
pass ``ALLOCATION_SLACK`` is refused with the bytes it would need and what fits. A stream
allocates its state (``check_stream_levels``) and per chunk a few times
``(levels + 1)`` times the chunk; the operators' offline calls ``AtrousTransform(x)`` and
``Denoiser(x)`` run ``atrous`` and a fresh stream.
"""

from __future__ import annotations

from ..engine.checks import positive_int
from .banks import FilterBank
from .boundaries import stand_in_length

MAX_LEVELS = 40
MAX_STREAM_HISTORY = 2**24  # samples per channel a stream may remember (128 MiB in float64)
ALLOCATION_MULTIPLE = 8
ALLOCATION_SLACK = 8 << 20  # bytes


def check_levels(levels: object) -> int:
    """``levels`` as an int in ``1 .. MAX_LEVELS`` (ValueError / TypeError quoting it)."""
    levels = positive_int(levels, "levels")
    if levels > MAX_LEVELS:
        raise ValueError(f"levels must be at most {MAX_LEVELS} (the deepest level's dilation "
                         f"2^(levels-1) would exceed 2^{MAX_LEVELS - 1} samples), got {levels}")
    return levels


def needed_length(bank: FilterBank, levels: int | None) -> int:
    """The samples a transform of ``levels`` levels needs: its deepest level's support
    (two levels' for ``levels=None``)."""
    return bank.support(2 if levels is None else levels)


def check_time_axis(shape: tuple[int, ...], axis: int, bank: FilterBank, levels: int | None,
                    what: str) -> None:
    """Refuse a 2-D input that looks like ``(T, C)`` with time on the default last axis."""
    if len(shape) != 2 or axis != -1:
        return
    rows, length = shape
    needed = needed_length(bank, levels)
    if 0 < length and 4 * length <= rows and length < needed:
        deepest = "2 levels (levels=None takes as many as fit)" if levels is None else \
            f"{levels} level{'s' if levels > 1 else ''}"
        raise ValueError(
            f"{what}: x has shape {shape}, which with axis=-1 (the default) is {rows} signals "
            f"of {length} samples, shorter than the {needed} samples that {deepest} of "
            f"{bank.name!r} span. If time runs down the first axis (soundfile.read gives "
            f"(frames, channels)), pass x.T or axis=0; to transform the rows as they are, "
            f"pass axis=1")


def check_channels(shape: tuple[int, ...], channels: int, axis: int, what: str) -> None:
    """Refuse, with a hint, a 2-D input whose rows are not an operator's ``channels``
    (``(T, C)`` given where ``(C, T)`` is expected)."""
    if len(shape) == 2 and axis == -1 and shape[0] != channels:
        more = "" if shape[1] == channels else f" (and channels={shape[1]})"
        raise ValueError(
            f"{what}(channels={channels}) takes (C, T) = ({channels}, T) with time on the "
            f"last axis, got x of shape {shape}. If time runs down the first axis "
            f"(soundfile.read gives (frames, channels)), pass x.T or axis=0{more}")


def check_stream_levels(bank: FilterBank, levels: object, what: str, copies: int = 1) -> int:
    """``levels`` for a stream: within ``check_levels`` and a history it can keep
    (``copies``: how many level-deep pasts it keeps; an analysis-synthesis stream keeps
    one per level in its delay lines, besides the analysis and synthesis histories; an
    inverse stream its delay lines and synthesis histories)."""
    levels = check_levels(levels)

    def kept(j: int) -> int:
        return (bank.length - 1) * (2**j - 1) * (j + 2 if copies > 1 else 1)

    if kept(levels) > MAX_STREAM_HISTORY:
        fit = max((j for j in range(1, levels) if kept(j) <= MAX_STREAM_HISTORY), default=0)
        raise ValueError(
            f"{what} with {levels} levels of {bank.name!r} would remember "
            f"{'(J+2)' if copies > 1 else ''}(K-1)(2^J - 1) = {kept(levels)} samples per "
            f"channel ({kept(levels) * 8 / 2**30:.3g} GiB in float64), more than the "
            f"{MAX_STREAM_HISTORY} a stream may keep; use levels <= {fit}")
    return levels


def _extra_bytes(rows: int, length: int, levels: int, itemsize: int, bank: FilterBank,
                 boundary: str, gains: bool) -> tuple[int, int]:
    """What a call needs beyond the bound's share: ``(extension, gains)``. A zero / edge
    stand-in longer than 2T takes ``levels + 8`` arrays of its extra samples (the
    coefficients and their temporaries); ``denoise``'s noise gains take 3 level filters of
    ``support(levels)`` float64, beyond ``levels + 1`` times the input."""
    extension = 0
    if not bank.difference:
        reach = (bank.length - 1) * (2**levels - 1)
        padded, _ = stand_in_length(length, boundary, reach)
        extension = (levels + 8) * rows * max(padded - 2 * length, 0) * itemsize
    given = (levels + 1) * rows * length * itemsize
    return extension, max(3 * bank.support(levels) * 8 - given, 0) if gains else 0


def check_memory(rows: int, length: int, levels: int, itemsize: int, bank: FilterBank,
                 boundary: str, what: str, gains: bool = False) -> None:
    """Refuse a call that would break the memory bound (module docstring): a zero / edge
    extension, or ``denoise``'s noise gains, needing more than ``ALLOCATION_SLACK``."""
    extension, filters = _extra_bytes(rows, length, levels, itemsize, bank, boundary, gains)
    if extension + filters <= ALLOCATION_SLACK:
        return
    fit = [j for j in range(1, levels) if sum(_extra_bytes(
        rows, length, j, itemsize, bank, boundary, gains)) <= ALLOCATION_SLACK]
    fewer = f"levels <= {fit[-1]}" if fit else "a longer signal"
    if extension >= filters:
        reach = (bank.length - 1) * (2**levels - 1)
        cause = (f"boundary={boundary!r} reads {reach} samples beyond the ends of {rows} "
                 f"signal(s) of {length} samples")
        advice = (f"use boundary='symmetric', 'reflect' or 'periodic' (exact within the "
                  f"bound for any length), or {fewer}")
    else:
        cause = f"the noise gains of level {levels} take filters of {bank.support(levels)} samples"
        advice = f"use {fewer}"
    given = rows * length * itemsize
    raise ValueError(
        f"{what} with {levels} levels of {bank.name!r}: {cause}, so the exact result needs "
        f"about {(extension + filters) / 2**20:.1f} MiB beyond {ALLOCATION_MULTIPLE} x "
        f"(levels + 1) x the input ({given / 2**20:.3g} MiB), more than the "
        f"{ALLOCATION_SLACK >> 20} MiB allowed; {advice}")
