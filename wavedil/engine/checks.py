"""Input checks shared by every module: dtypes, shapes, positive integers.

The rules (DESIGN.md): float32 stays float32, float64 stays float64, integers become
float64, anything else is a ``TypeError``; errors quote what was expected and what was given.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def as_float_array(x: npt.ArrayLike, name: str = "x") -> np.ndarray:
    """``x`` as a float32 or float64 array (integers become float64)."""
    a = np.asarray(x)
    if a.dtype == np.float32 or a.dtype == np.float64:
        return a
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.float64)
    raise TypeError(
        f"{name} must be float32, float64 or integer, got dtype {a.dtype} (shape {a.shape})"
    )


def check_finite(a: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise ValueError(f"{name} must be finite, got {bad} non-finite value(s) of {a.size}")


def positive_int(value: object, name: str) -> int:
    """``value`` as a Python int >= 1, or a ValueError/TypeError quoting it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value}")
    return int(value)


def per_axis(value: int | Sequence[int], ndim: int, name: str) -> tuple[int, ...]:
    """An int or a tuple of ints, checked >= 1 and broadcast to ``ndim`` axes."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (positive_int(value, name),) * ndim
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(f"{name} must be an integer >= 1 or one per axis ({ndim}), got {value!r}")
    values = tuple(value)
    if len(values) != ndim:
        raise ValueError(f"{name} needs one value per axis ({ndim}), got {len(values)}: {value!r}")
    return tuple(positive_int(v, name) for v in values)
