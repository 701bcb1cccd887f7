"""The plan of an operator on one time block (``Blocks``), and what every plan shares.

Block ``[a, b)`` of a signal of ``T`` samples arrives as the window ``[lo, hi)`` with
``lo = max(a - left, floor)`` and ``hi = min(b + right, ceil)``; ``run`` returns the
operator's output on ``[a, b)`` alone:

- the operator's own boundary (``extend=None``): ``floor = 0``, ``ceil = T``;
- an extension (``extend`` a boundary name): the signal is first padded by ``left`` and
  ``right`` samples in that mode (``PAD_MODES``: as ``numpy.pad``), so ``floor = -left``,
  ``ceil = T + right``.

Shape: windows ``(..., hi - lo)`` (time last) in; ``(..., b - a)`` or ``(k, ..., b - a)``
out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

EXTENSIONS = ("periodic", "symmetric", "reflect", "zero", "edge")
PAD_MODES = {"periodic": "wrap", "symmetric": "symmetric", "reflect": "reflect",
             "zero": "constant", "edge": "edge"}  # numpy.pad's names for the boundaries


class Blocks:
    """A plan: ``left`` / ``right`` samples of context and ``extend`` (None or a boundary)."""

    left = 0
    right = 0
    length = 0  # T, the signal's samples
    extend: str | None = None

    def run(self, window: np.ndarray, lo: int, hi: int, a: int, b: int, extra: Any) -> np.ndarray:
        """The output on ``[a, b)`` from the input window ``[lo, hi)``."""
        raise NotImplementedError

    def whole(self, x: np.ndarray) -> np.ndarray:
        """The in-memory call on the whole signal (time last)."""
        raise NotImplementedError

    def prepare(self, windows: list[tuple[Any, int, int, int, int]], x: Any) -> Any:
        """Work over the whole signal ``x`` (a dask array, time last) before the blocks run,
        from its windows ``(delayed block, lo, hi, a, b)``: a value (or Dask object)
        passed to ``run`` as ``extra``; None for most kinds."""
        return None

    def describe(self) -> str:
        return f"{type(self).__name__}(left={self.left}, right={self.right}, " \
               f"extend={self.extend!r})"

    __repr__ = describe


def crop(y: np.ndarray, lo: int, a: int, b: int) -> np.ndarray:
    """Samples ``[a, b)`` of an output that starts at ``lo`` (time last)."""
    return y[..., a - lo : b - lo]


def minimum_block(plan: Blocks) -> int:
    """The fewest samples a block (a chunk) may hold: ``max(left, right)``, at least 1."""
    return max(plan.left, plan.right, 1)

