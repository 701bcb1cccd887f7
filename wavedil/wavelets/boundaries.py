"""Boundary extensions of a finite signal: windows of the endless extension, folded taps,
and the periodic stand-in of an extended signal.

A boundary extends ``c`` (T samples, time last) beyond both ends forever: ``"periodic"``
repeats it (period T), ``"symmetric"`` mirrors it with the end samples repeated
(``x1 x0 | x0 x1 ..``, period 2T), ``"reflect"`` without them (``x1 | x0 x1 ..``, period
2T - 2, or 1 when T = 1), ``"zero"`` pads zeros and ``"edge"`` repeats the first / last
sample (``numpy.pad``'s ``wrap``, ``symmetric``, ``reflect``, ``constant``, ``edge``).

- ``window(c, start, stop, boundary)``: positions ``start .. stop - 1`` of the extension,
  copied slice by slice (no index arrays: its memory is its output's);
- ``fold(offsets, length, boundary)``: tap offsets moved into ``[-T, 2T)`` so that they
  read the same samples for every output n in ``[0, T)``; a level whose dilated filter
  spans far more than the signal then reads T samples per tap, not ``T + span``;
- ``stand_in(x, boundary, reach)``: a signal whose *periodic* transform, read at
  ``start .. start + T - 1``, is exactly the transform of the endless extension of ``x``,
  for an operator that reads at most ``reach`` samples on either side of an output (an
  analysis then a synthesis: ``wavedil.wavelets.transform.reach``). The symmetric and
  reflect extensions are periodic, so one period (2T, 2T - 2) is exact whatever ``reach``;
  zero needs ``reach`` zeros after x (the wrap-around then reads zeros on both sides), edge
  ``reach`` edge samples on each side; the shortest exact choice is taken.

Shape: ``c`` and ``x`` ``(..., T)``; the results keep the leading axes.
"""

from __future__ import annotations

import numpy as np

BOUNDARIES = ("periodic", "symmetric", "reflect", "zero", "edge")


def period(length: int, boundary: str) -> int | None:
    """The period of the extension of ``length`` samples (None for zero and edge).

    >>> period(5, "periodic"), period(5, "symmetric"), period(5, "reflect"), period(5, "zero")
    (5, 10, 8, None)
    """
    if boundary == "periodic":
        return length
    if boundary == "symmetric":
        return 2 * length
    if boundary == "reflect":
        return max(2 * length - 2, 1)
    return None


def _period_piece(c: np.ndarray, q0: int, q1: int, boundary: str, out: np.ndarray) -> None:
    """``out[..., :] =`` positions ``q0 .. q1 - 1`` of one period (``0 <= q0 < q1 <= Q``)."""
    length = c.shape[-1]
    inside = max(min(q1, length) - q0, 0)
    if inside:
        out[..., :inside] = c[..., q0 : q0 + inside]
    if q1 > length:  # the mirrored half: position q reads c[Q - 1 - q] or c[Q - q]
        shift = 0 if boundary == "symmetric" else 1
        start = max(q0, length) - length + shift
        out[..., inside:] = c[..., ::-1][..., start : start + q1 - max(q0, length)]


def window(c: np.ndarray, start: int, stop: int, boundary: str,
           out: np.ndarray | None = None) -> np.ndarray:
    """Positions ``start .. stop - 1`` of ``c`` extended by ``boundary``, in ``out`` (or a
    new array).

    >>> window(np.array([1.0, 2.0, 3.0]), -2, 5, "symmetric").tolist()
    [2.0, 1.0, 1.0, 2.0, 3.0, 3.0, 2.0]
    >>> window(np.array([1.0, 2.0, 3.0]), -2, 5, "reflect").tolist()
    [3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]

    Shape: ``(..., T)`` in, ``(..., stop - start)`` out.
    """
    length, size = c.shape[-1], stop - start
    if out is None:
        out = np.empty(c.shape[:-1] + (size,), c.dtype)
    if length == 0:
        out[...] = 0
        return out
    cycle = period(length, boundary)
    if cycle is None:  # zero / edge: before, inside, after
        before = min(max(-start, 0), size)
        inside_end = max(min(length - start, size), before)
        out[..., :before] = 0 if boundary == "zero" else c[..., :1]
        out[..., before:inside_end] = c[..., start + before : start + inside_end]
        out[..., inside_end:] = 0 if boundary == "zero" else c[..., -1:]
        return out
    if length == 1:  # every periodic extension of one sample is that sample
        out[...] = c
        return out
    done = 0
    while done < size:  # one run per period crossed: a few, for windows of a few periods
        q = (start + done) % cycle
        run = min(cycle - q, size - done)
        _period_piece(c, q, q + run, boundary, out[..., done : done + run])
        done += run
    return out


def fold(offsets: list[int], length: int, boundary: str) -> list[int]:
    """``offsets`` moved into ``[-T, 2T)``, each reading what it read for every n in
    ``[0, T)``: modulo the period, or clipped to ``[-T, T]`` for zero and edge (every
    position beyond reads a zero, or the same end sample).

    >>> fold([-9, 0, 9, 18], 4, "periodic"), fold([-9, 0, 9, 18], 4, "edge")
    ([3, 0, 1, 2], [-4, 0, 4, 4])
    """
    cycle = period(length, boundary)
    if cycle is None:
        return [min(max(offset, -length), length) for offset in offsets]
    return [offset % cycle for offset in offsets]


def stand_in_length(length: int, boundary: str, reach: int) -> tuple[int, int]:
    """``(P, start)``: the length of ``stand_in``'s signal and where x starts in it."""
    cycle = 1 if length == 1 else period(length, boundary)  # one sample: a constant
    if boundary == "periodic" or length == 0:
        return length, 0
    if boundary == "zero":
        return length + reach, 0
    if cycle is not None and cycle <= length + 2 * reach:
        return cycle, 0
    return length + 2 * reach, reach


def stand_in(x: np.ndarray, boundary: str, reach: int) -> tuple[np.ndarray, int]:
    """``(xp, start)``: the periodic stand-in of ``x`` extended by ``boundary`` (module
    docstring); ``xp`` is ``x`` itself for ``"periodic"``.

    Shape: ``(..., T)`` in, ``(..., P)`` out with ``P`` at most ``2T`` for symmetric and
    reflect, ``T + reach`` for zero, ``T + 2 reach`` for edge.
    """
    size, start = stand_in_length(x.shape[-1], boundary, reach)
    if boundary == "periodic" or x.shape[-1] == 0:
        return x, 0
    return window(x, -start, size - start, boundary), start
