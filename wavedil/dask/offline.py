"""The offline ``denoise`` on Dask: thresholds from the whole signal, then chunk by chunk.

``denoise`` (``wavedil.wavelets.denoise``) transforms, takes per level and row the
statistics of all T coefficients (the noise level from the medians of ``|w_j|``, then
BayesShrink's ``mean(w^2)`` and ``max |w|``, or the SURE minimum), shrinks, and inverts.
Here:

1. the details of each chunk are computed from its window (``plans``: an SWT bank's
   signal extended by ``reach`` in the boundary's mode, then a periodic transform of the
   window; a difference bank's transform with its own boundary), and reduced to exact
   statistics by ``wavedil.dask.statistics`` in a few lazy passes (a tree of merges per
   pass; the details are recomputed in each pass, never held);
2. the thresholds ``(levels, rows)`` go to every chunk, which transforms its window
   again, shrinks and inverts it, and keeps its own samples.

Equality with the in-memory ``denoise``: the details are the same arithmetic on the same
samples; the noise level is bit for bit numpy's median; ``mean(w^2)`` and the SURE sums
add the same terms in another order (rounding only). So the result equals ``denoise(x)``
to rounding for soft and garrote shrinkage (tests/test_dask_denoise.py: at most 3e-16 on
signals of unit scale in float64, none in float32); hard shrinkage agrees except for a
coefficient within that rounding of its threshold.

Shape: ``(..., T)`` (time last), the same out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.finite import in_task
from ..receptive.field import halo as receptive_halo
from ..wavelets import AtrousResult, atrous, denoise, filter_bank, iatrous, max_level
from ..wavelets.denoise import detail_gains, shrink
from ..wavelets.transform import atrous_spec, reach
from .blocks import Blocks, crop
from .statistics import Query, Statistics, block_statistics, merge

DEFAULTS = {"wavelet": "sym8", "levels": 10, "threshold": "bayes", "mode": "soft",
            "sigma": None, "alignment": "centered", "boundary": "symmetric"}
FAN_IN = 8  # answers merged per task of the reduction tree


class DenoiseBlocks(Blocks):
    """The plan of ``denoise(x, **options)`` on a signal of ``length`` samples."""

    def __init__(self, options: dict[str, Any], length: int) -> None:
        unknown = sorted(set(options) - set(DEFAULTS))
        if unknown:
            raise TypeError(f"denoise got unexpected options {unknown}; it takes "
                            f"{', '.join(DEFAULTS)}")
        self.options = {**DEFAULTS, **options}
        denoise(np.zeros(1), **{**self.options, "sigma": None})  # denoise checks the options
        bank = filter_bank(self.options["wavelet"])
        levels = self.options["levels"]
        self.levels = max_level(length, bank) if levels is None else int(levels)
        self.options["levels"] = self.levels
        self.bank, self.length = bank, length
        boundary, alignment = self.options["boundary"], self.options["alignment"]
        if bank.difference:  # transformed with its own boundary, inverted by a sum
            self.left, self.right = receptive_halo(atrous_spec(bank, self.levels, alignment))
            self.extend = "periodic" if boundary == "periodic" else None
            self.boundary = boundary
        else:  # extended once by reach, then periodic (as denoise does)
            self.left = self.right = reach(bank, self.levels)
            self.extend, self.boundary = boundary, "periodic"
        self.gains = detail_gains(bank, self.levels, alignment)

    def describe(self) -> str:
        return (f"DenoiseBlocks({self.options}, left={self.left}, right={self.right}, "
                f"extend={self.extend!r})")

    __repr__ = describe

    def whole(self, x: np.ndarray) -> np.ndarray:
        return denoise(x, **self.options)

    def transform(self, window: np.ndarray) -> AtrousResult:
        """The window's transform: rows ``(rows, n)``."""
        rows = window.reshape(-1, window.shape[-1])
        return atrous(rows, self.bank, self.levels, self.options["alignment"], self.boundary)

    def details(self, window: np.ndarray, lo: int, a: int, b: int) -> np.ndarray:
        """``(levels, rows, b - a)``: the details of ``[a, b)`` as ``denoise`` has them."""
        return crop(self.transform(window).details, lo, a, b)

    def statistics(self, shape: tuple[int, ...], dtype: np.dtype) -> Statistics:
        """The search's starting state for a signal of ``shape`` (time last)."""
        rows = int(np.prod(shape[:-1], dtype=np.int64))
        sigma = self.options["sigma"]
        if sigma is not None:
            sigma = np.broadcast_to(np.asarray(sigma, np.float64), shape[:-1]).reshape(rows)
        detail_dtype = np.float32 if dtype == np.float32 else np.float64  # as denoise's
        return Statistics(self.levels, rows, self.length, self.gains,
                          self.options["threshold"], sigma, detail_dtype)

    def prepare(self, windows: list[tuple[Any, int, int, int, int]], x: Any) -> Any:
        """The thresholds ``(levels, rows)``: a lazy chain of passes over the windows."""
        from dask import delayed

        state = self.statistics(x.shape, x.dtype)
        if not state.needs_data:
            return state.lambdas()
        for _ in range(state.max_passes()):
            asked = delayed(_queries, pure=True)(state)
            answers = [delayed(_answer, pure=True)(self, w, lo, a, b, asked)
                       for w, lo, _, a, b in windows]
            state = delayed(Statistics.update, pure=True)(state, _tree(answers))
        return delayed(Statistics.lambdas, pure=True)(state)

    def run(self, window: np.ndarray, lo: int, hi: int, a: int, b: int, extra: Any) -> np.ndarray:
        result = self.transform(window)
        lambdas = np.asarray(extra)  # (levels, rows)
        shrunk = shrink(result.details, lambdas[..., None], self.options["mode"])
        y = iatrous(AtrousResult(shrunk, result.approx, self.bank, self.options["alignment"],
                                 self.boundary, False, -1))
        return crop(y, lo, a, b).reshape(window.shape[:-1] + (b - a,))


def _queries(state: Statistics) -> tuple[list[Query], bool, bool]:
    return state.queries()


def _answer(plan: DenoiseBlocks, window: np.ndarray, lo: int, a: int, b: int,
            asked: tuple[list[Query], bool, bool]) -> dict:
    queries, moments, sums = asked
    if not queries and not moments:
        return {"queries": {}}
    with in_task("confine"):  # non-finite details are left out; the blocks refuse them
        details = plan.details(window, lo, a, b)
    return block_statistics(details, queries, moments, sums)


def _tree(answers: list[Any]) -> Any:
    from dask import delayed

    while len(answers) > 1:
        answers = [delayed(merge, pure=True)(*answers[i : i + FAN_IN])
                   for i in range(0, len(answers), FAN_IN)]
    return answers[0]
