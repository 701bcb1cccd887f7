"""Exact statistics of wavelet details spread over many blocks: medians and SURE minima.

The offline ``denoise`` takes, per level and signal row, ``median(|w|)`` (the noise
level), ``mean(w^2)`` and ``max |w|`` (BayesShrink) or the minimiser of Stein's risk
over the sorted ``w^2`` (SURE), all over the whole signal. Here the blocks never meet:

- for ``v >= 0`` the float64 bit patterns (as unsigned integers) sort as the values do. A
  pass counts the patterns of ``|w|`` in bins of ``2^shift`` patterns (``shift`` 44: about
  1/256 of an octave), with the sum of ``w^2`` per bin; the next pass looks only inside
  the bins where the wanted value lies, with bins 2^16 times narrower (``SHIFTS``), or,
  once they hold at most ``GATHER`` values, gathers those values. A bin of shift 0 holds
  one value. So a median is exact, found in at most four passes (two for a typical
  signal: the histogram, then the few values of one bin);
- SURE: the risk of threshold ``t^2 = v`` is ``f(v) = T - 2 K(v) + S(v) + (T - K(v)) v``
  (``K``, ``S``: count and sum of the ``w^2 / sigma_j^2`` up to v). Between two values f
  rises, at each value it drops by 2, so over a bin holding c values f lies between
  ``f(lo) - 2c`` and ``f(hi)``: bins whose lower bound exceeds the best upper bound cannot
  hold the minimum, and the search narrows to the others the same way.

Rounding: the median and ``max |w|`` are the very values ``numpy`` finds (bit for bit);
``mean(w^2)`` and the SURE sums add the same terms in another order (relative difference
of order 1e-16 times the number of terms), which moves a SURE minimum only when two
candidate risks lie within that rounding of each other.

Non-finite coefficients (``wavedil.nonfinite("confine")``) are left out of every count,
sum and search, as the in-memory ``denoise`` leaves them out (``finite_only``): the first
pass counts the finite ones per level and row, and the medians' ranks, ``mean(w^2)`` and
the SURE risk take that count for ``n``.

Shape: details ``(levels, rows, n)`` per block; statistics ``(levels, rows)``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..wavelets.denoise import (
    SIGMA_COUNT,
    bayes_threshold_from,
    estimate_sigma,
    universal_threshold,
)

SHIFTS = (44, 28, 12, 0)  # bin widths, as powers of two of bit patterns, pass after pass
GATHER = 1 << 18  # gather the values of the wanted bins once they hold no more than this
TOP = 1 << 63  # past the largest pattern of a value >= 0 (the sign bit is clear)
INFINITY = 0x7FF0000000000000  # the pattern of inf
DENSE = 1 << 21  # bins counted with bincount up to this many keys, np.unique beyond


@dataclass(frozen=True)
class Query:
    """Count (``shift >= 0``) or gather (``shift = -1``) the ``|w|`` of one level and row
    whose bit patterns lie in one of the intervals ``[start, start + width)`` (sorted,
    disjoint). Bins are numbered ``interval * (width >> shift) + offset >> shift``."""

    level: int
    row: int
    starts: tuple[int, ...]
    width: int
    shift: int

    @property
    def per_interval(self) -> int:
        return self.width >> self.shift


def values_of(patterns: npt.ArrayLike) -> np.ndarray:
    """The float64 values of bit patterns (inf for those past it)."""
    p = np.minimum(np.asarray(patterns, np.int64), INFINITY)
    return np.ascontiguousarray(p).view(np.float64)


def block_statistics(details: np.ndarray, queries: list[Query], moments: bool,
                     sums: bool = True) -> dict:
    """One block's answers: per query the occupied bins ``(keys, counts, sums of w^2)``
    (the sums zero unless ``sums``) or the sorted values inside; with ``moments``, the count
    and sum of ``w^2`` of the finite ``|w|`` and the largest one per level and row (the
    non-finite left out everywhere)."""
    out: dict[str, Any] = {"queries": {}}
    if not queries and not moments:
        return out
    levels, rows = details.shape[:2]
    if moments:
        out["sumsq"], out["max"] = np.zeros((levels, rows)), np.zeros((levels, rows))
        out["count"] = np.zeros((levels, rows), np.int64)
    for level in range(levels):  # one level at a time: a float64 copy of one level at most
        asked = [q for q in queries if q.level == level]
        if not asked and not moments:
            continue
        w = np.abs(np.asarray(details[level], dtype=np.float64))  # (rows, n)
        finite = None if np.isfinite(w).all() else np.isfinite(w)
        if moments:
            kept = w if finite is None else np.where(finite, w, 0.0)
            out["sumsq"][level] = np.sum(kept * kept, axis=-1)
            out["max"][level] = np.max(kept, axis=-1, initial=0.0)
            out["count"][level] = w.shape[-1] if finite is None else finite.sum(axis=-1)
        for q in asked:
            row = w[q.row] if finite is None else w[q.row][finite[q.row]]
            out["queries"][q] = _answer(row, q, sums)
    return out


def _answer(values: np.ndarray, q: Query, sums: bool) -> Any:
    """One query's answer from one row's ``|w|`` (float64)."""
    patterns = values.view(np.int64)
    if q.starts == (0,) and q.width >= TOP:  # everything
        which, offset = None, patterns
    elif len(q.starts) == 1:  # one interval: two comparisons
        offset = patterns - np.int64(q.starts[0])
        inside = (offset >= 0) & (offset < q.width)
        which, values, offset = None, values[inside], offset[inside]
    else:
        starts = np.array(q.starts, np.int64)
        which = np.searchsorted(starts, patterns, side="right") - 1
        offset = patterns - starts[np.maximum(which, 0)]
        inside = (which >= 0) & (offset < q.width)
        values, which, offset = values[inside], which[inside], offset[inside]
    if q.shift < 0:
        return np.sort(values)
    keys = offset >> q.shift
    if which is not None:
        keys += which * q.per_interval
    if len(q.starts) * q.per_interval <= DENSE:
        counts = np.bincount(keys)
        occupied = np.flatnonzero(counts)
        counts = counts[occupied]
        total = np.bincount(keys, weights=values * values)[occupied] if sums else None
    else:
        occupied, where, counts = np.unique(keys, return_inverse=True, return_counts=True)
        total = np.bincount(where, weights=values * values) if sums else None
    return occupied, counts, np.zeros(occupied.size) if total is None else total


def merge(*parts: dict) -> dict:
    """The answers of several blocks as one."""
    out: dict[str, Any] = {"queries": {}}
    for key, combine in (("sumsq", np.add), ("max", np.maximum), ("count", np.add)):
        found = [p[key] for p in parts if key in p]
        if found:
            total = found[0]
            for more in found[1:]:
                total = combine(total, more)
            out[key] = total
    for q in {q for p in parts for q in p["queries"]}:
        answers = [p["queries"][q] for p in parts if q in p["queries"]]
        if q.shift < 0:
            out["queries"][q] = np.sort(np.concatenate(answers))
            continue
        keys = np.concatenate([a[0] for a in answers])
        unique, where = np.unique(keys, return_inverse=True)
        counts = np.bincount(where, weights=np.concatenate([a[1] for a in answers]))
        sums = np.bincount(where, weights=np.concatenate([a[2] for a in answers]))
        out["queries"][q] = (unique, counts.astype(np.int64), sums)
    return out


def next_step(shift: int, count: int) -> int:
    """The next query's shift for bins of ``2^shift`` patterns holding ``count`` values:
    ``-1`` (gather) when they are few, else 16 bits finer."""
    return -1 if count <= GATHER else max(shift - 16, 0)


@dataclass
class RankSearch:
    """Where the value of rank ``rank`` (0-based, ascending) of one level and row lies: the
    lower (``upper`` False) or upper middle of its finite values, ``rank`` set from their
    count after the first pass."""

    level: int
    row: int
    upper: bool
    rank: int = -1
    lo: int = 0
    width: int = TOP
    below: int = 0  # values under ``lo``
    shift: int = SHIFTS[0]
    value: float | None = None

    def query(self) -> Query:
        return Query(self.level, self.row, (self.lo,), self.width, self.shift)

    def update(self, answer: Any) -> None:
        if self.shift < 0:
            self.value = float(answer[self.rank - self.below])
            return
        keys, counts, _ = answer
        cumulative = np.cumsum(counts)
        i = int(np.searchsorted(cumulative, self.rank - self.below, side="right"))
        self.below += int(cumulative[i - 1]) if i else 0
        self.lo += int(keys[i]) << self.shift
        self.width = 1 << self.shift
        if self.shift == 0:
            self.value = float(values_of([self.lo])[0])
        else:
            self.shift = next_step(self.shift, int(counts[i]))


def _exclusive(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The sums of ``values`` before each element within its group (``groups`` sorted)."""
    before = np.cumsum(values) - values
    first = np.searchsorted(groups, groups, side="left")
    return before - before[first]


@dataclass
class SureSearch:
    """The minimiser of one level and row's SURE risk: its candidate bins of ``|w|``
    patterns, ``width`` patterns wide, as arrays (start, values below, sum of ``w^2``
    below, count, sum of ``w^2``); ``shift`` is the next query's (-1: gather)."""

    level: int
    row: int
    length: int
    sigma: float  # sigma_j > 0
    total: float  # sum of w^2 over the row (for the rounding margin)
    best: float = math.inf  # the smallest upper bound of the risk seen so far
    bins: tuple[np.ndarray, ...] = ()
    width: int = 0
    shift: int = SHIFTS[0]
    square: float | None = None  # the answer: t^2 in units of sigma_j^2

    def query(self) -> Query:
        return Query(self.level, self.row, tuple(int(v) for v in self.bins[0]), self.width,
                     self.shift)

    def start(self, keys: np.ndarray, counts: np.ndarray, sums: np.ndarray) -> None:
        """From the first pass's bins (``SHIFTS[0]``, over every value)."""
        below = np.cumsum(counts) - counts
        self.select((keys.astype(np.int64) << SHIFTS[0], below, np.cumsum(sums) - sums,
                     counts, sums), 1 << SHIFTS[0])

    def select(self, bins: tuple[np.ndarray, ...], width: int) -> None:
        """Keep the bins that may hold the minimum and choose the next step."""
        lo, below, below_sum, count, sums = bins
        n, scale = self.length, self.sigma ** 2
        v_lo = values_of(lo) ** 2 / scale
        k_after = (below + count).astype(np.float64)
        s_before = below_sum / scale
        if width == 1:  # one value per bin: the risk itself, at the last of equal values
            risk = n - 2 * k_after + s_before + sums / scale + (n - k_after) * v_lo
            self.square = float(v_lo[int(np.argmin(risk))])
            return
        v_hi = values_of(lo + width) ** 2 / scale
        with np.errstate(invalid="ignore"):
            upper = n - 2 * k_after + s_before + sums / scale + (n - k_after) * v_hi
            lower = n - 2 * k_after + s_before + (n - k_after) * v_lo
        self.best = min(self.best, float(np.nanmin(upper)))
        keep = lower <= self.best + 1e-9 * (n + self.total / scale)  # rounding margin
        self.bins = tuple(a[keep] for a in bins)
        self.width = width
        self.shift = next_step(int(math.log2(width)), int(np.sum(self.bins[3])))

    def update(self, answer: Any) -> None:
        lo, below, below_sum, _, _ = self.bins
        if self.shift < 0:
            self._resolve(answer)
            return
        keys, counts, sums = answer
        parent, offset = np.divmod(keys, self.width >> self.shift)
        self.select((lo[parent] + (offset << self.shift),
                     below[parent] + _exclusive(counts, parent),
                     below_sum[parent] + _exclusive(sums, parent), counts, sums),
                    1 << self.shift)

    def _resolve(self, values: np.ndarray) -> None:
        """The exact risk of every gathered value; the first minimum wins (as ``argmin``)."""
        lo, below, below_sum, _, _ = self.bins
        parent = np.searchsorted(lo, values.view(np.int64), side="right") - 1
        z2 = (values / self.sigma) ** 2
        k = below[parent] + _exclusive(np.ones(values.size), parent) + 1
        cumulative = below_sum[parent] / self.sigma ** 2 + _exclusive(z2, parent) + z2
        risk = self.length - 2 * k + cumulative + (self.length - k) * z2
        self.square = float(z2[int(np.argmin(risk))])


class Statistics:
    """The state of the search for one signal's thresholds (``lambdas`` at the end).

    Args:
        levels, rows, length: the details' shape ``(levels, rows, length)``.
        gains: ``(levels,)`` noise gains; ``threshold``: ``denoise``'s rule;
        sigma: ``(rows,)`` given noise levels, or None (estimated: ``noise_sigma``);
        dtype: the details' dtype (the median is taken in it, as ``numpy`` does).
    """

    def __init__(self, levels: int, rows: int, length: int, gains: npt.ArrayLike,
                 threshold: str | float, sigma: np.ndarray | None, dtype: npt.DTypeLike) -> None:
        self.levels, self.rows, self.length = levels, rows, length
        self.gains = np.asarray(gains, np.float64)
        self.threshold, self.dtype = threshold, np.dtype(dtype)
        self.sigma = sigma
        # noise_sigma's levels: 1, and each j with length >= SIGMA_COUNT * 2^j
        self.used = max(1, sum(1 for j in range(1, levels + 1) if length >= SIGMA_COUNT * 2**j))
        self.medians = [RankSearch(j, r, upper) for j in range(self.used) for r in range(rows)
                        for upper in (False, True)] if sigma is None else []
        self.sure: list[SureSearch] | None = None
        self.moments: dict[str, np.ndarray] = {}
        self.first: dict[Query, Any] = {}  # the first pass's histograms (SURE starts there)
        self.passes = 0

    @property
    def needs_data(self) -> bool:
        return self.sigma is None or self.threshold in ("bayes", "sure")

    def queries(self) -> tuple[list[Query], bool, bool]:
        """This pass's queries; whether it sums the moments (the first pass); whether the
        bins need their sums of ``w^2`` (SURE)."""
        sure = self.threshold == "sure"
        if self.done:
            return [], False, False
        if self.passes == 0:
            levels = range(self.levels) if sure else range(self.used if self.sigma is None else 0)
            return ([Query(j, r, (0,), TOP, SHIFTS[0]) for j in levels
                     for r in range(self.rows)], True, sure)  # moments: the counts
        found = {m.query() for m in self.medians if m.value is None}
        found.update(s.query() for s in self.sure or [] if s.square is None)
        return sorted(found, key=lambda q: (q.level, q.row, q.starts)), False, sure

    def update(self, merged: dict) -> Statistics:
        """A copy advanced by one pass's merged answers."""
        new = copy.deepcopy(self)
        answers = merged["queries"]
        if new.passes == 0:
            new.moments = {k: merged[k] for k in ("sumsq", "max", "count") if k in merged}
            new.first = dict(answers)
            for m in new.medians:
                n = int(new.counts[m.level, m.row])
                m.rank = n // 2 if m.upper else (n - 1) // 2
                if n == 0:  # no finite value: NaN, as np.nanmedian
                    m.value = math.nan
        for m in new.medians:
            if m.value is None:
                m.update(answers[m.query()])
        for s in new.sure or []:
            if s.square is None:
                s.update(answers[s.query()])
        new.passes += 1
        if new.sure is None and new.threshold == "sure" and \
                all(m.value is not None for m in new.medians):
            new._start_sure()
        return new

    @property
    def counts(self) -> np.ndarray:
        """The finite coefficients per level and row ``(levels, rows)`` (after a pass)."""
        return self.moments["count"]

    @property
    def done(self) -> bool:
        return self.passes > 0 and all(m.value is not None for m in self.medians) and \
            (self.threshold != "sure" or (self.sure is not None and
                                          all(s.square is not None for s in self.sure)))

    def noise(self) -> np.ndarray:
        """The noise std per row: given, or ``noise_sigma``'s from the exact medians."""
        if self.sigma is not None:
            return np.asarray(self.sigma, np.float64)
        per_level = []
        for j in range(self.used):
            # as denoise: in float64 when the level holds a non-finite value (finite_only)
            dtype = self.dtype if np.all(self.counts[j] == self.length) else np.float64
            rows = []
            for r in range(self.rows):
                middle = [m.value for m in self.medians if m.level == j and m.row == r]
                rows.append(estimate_sigma(np.array(middle, dtype), self.gains[j]))
            per_level.append(np.array(rows))
        return np.fmin.reduce(per_level, axis=0)  # a level without finite values: skipped

    def sigma_j(self) -> np.ndarray:
        return self.gains[:, None] * np.asarray(self.noise(), np.float64)[None, :]

    def _start_sure(self) -> None:
        sigma_j, searches = self.sigma_j(), []
        for j in range(self.levels):
            for r in range(self.rows):
                keys, counts, sums = self.first[Query(j, r, (0,), TOP, SHIFTS[0])]
                n = int(self.counts[j, r])  # the finite coefficients
                search = SureSearch(j, r, n, float(sigma_j[j, r]), float(np.sum(sums)))
                if n == 0:
                    search.square = math.nan
                elif search.sigma > 0:
                    search.start(keys, counts, sums)
                else:
                    search.square = 0.0
                searches.append(search)
        self.sure = searches

    def lambdas(self) -> np.ndarray:
        """The thresholds ``(levels, rows)``, as ``level_thresholds`` gives them."""
        if not self.done and self.needs_data:
            raise RuntimeError(f"the threshold search is unfinished after {self.passes} "
                               f"passes")
        sigma_j, threshold = self.sigma_j(), self.threshold
        if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
            return float(threshold) * sigma_j
        if threshold == "universal":
            return universal_threshold(sigma_j, self.length)
        counts = self.counts
        if threshold == "bayes":
            with np.errstate(invalid="ignore", divide="ignore"):  # no finite value: NaN
                mean_square = self.moments["sumsq"] / counts
            return bayes_threshold_from(mean_square,
                                        np.where(counts > 0, self.moments["max"], np.nan),
                                        sigma_j)
        assert self.sure is not None
        squares = np.array([s.square for s in self.sure]).reshape(self.levels, self.rows)
        cap = np.array([[float(universal_threshold(1.0, int(n))) for n in row]
                        for row in counts])  # per row, over its finite coefficients
        t = np.minimum(np.sqrt(squares), cap)
        return np.where(sigma_j > 0, t * sigma_j, 0.0)

    def max_passes(self) -> int:
        """Passes enough for any data: 4 per search (``SHIFTS``), the medians first."""
        medians = len(SHIFTS) if self.sigma is None else 1
        return medians + (len(SHIFTS) - 1 if self.threshold == "sure" else 0)
