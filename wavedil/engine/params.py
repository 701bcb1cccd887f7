"""Parameter checks run at construction, before anything is allocated: integers, flags and
the memory budget.

- ``integer(value, name, low, high)``: a Python or numpy integer (``bool`` is refused, and
  so is ``2.0``) in ``low .. high``, returned as an ``int``.
- ``flag(value, name)``: ``True`` / ``False`` (or a numpy bool); ``"no"``, ``0`` or ``None``
  are refused rather than read by their truth value.
- ``check_budget(nbytes, what, advice)``: refuses, with the numbers, an allocation that a
  parameter asks for (a dilation's history, a window, a level's filters, an output, a
  model's buffers for a chunk) when it exceeds the memory budget.

The memory budget is ``DEFAULT_MEMORY_BUDGET`` (4 GiB) unless the environment variable
``WAVEDIL_MEMORY_BUDGET`` gives another (bytes, or a number with a ``K``, ``M``, ``G`` or
``T`` suffix, powers of 1024). ``set_memory_budget(nbytes)`` changes it for the process
and returns the previous value; ``memory_budget()`` reads it. It bounds what one parameter
asks for, a guard against typos (``window=10**12``) rather than an accounting of all memory.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

DEFAULT_MEMORY_BUDGET = 4 << 30  # bytes
_SUFFIXES = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_budget: int | None = None  # set_memory_budget's value; None: the environment's or default


def _parse(text: str) -> int:
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = _SUFFIXES.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in _SUFFIXES else text
    try:
        value = float(number) * scale
    except ValueError:
        value = -1.0
    if not value >= 1:  # also NaN
        raise ValueError(f"WAVEDIL_MEMORY_BUDGET must be a number of bytes >= 1 (with an "
                         f"optional K, M, G or T suffix), got {text!r}")
    return int(value)


def memory_budget() -> int:
    """The bytes one parameter may ask for (module docstring)."""
    if _budget is not None:
        return _budget
    text = os.environ.get("WAVEDIL_MEMORY_BUDGET")
    return DEFAULT_MEMORY_BUDGET if not text else _parse(text)


def set_memory_budget(nbytes: int | None) -> int:
    """Set the memory budget to ``nbytes`` (None: back to the environment's or the
    default); returns the previous budget."""
    global _budget
    previous = memory_budget()
    _budget = None if nbytes is None else integer(nbytes, "nbytes")
    return previous


def size(nbytes: float) -> str:
    """``nbytes`` for a message: ``12.5 GiB``."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{int(nbytes)} bytes"


def check_budget(nbytes: float, what: str, advice: str) -> None:
    """Refuse ``what`` (the parameter and its value) when it needs more than the budget."""
    budget = memory_budget()
    if nbytes > budget:
        raise ValueError(
            f"{what} needs {size(nbytes)}, more than the memory budget of {size(budget)}; "
            f"{advice} (or raise the budget: wavedil.engine.params.set_memory_budget(nbytes) "
            f"or the environment variable WAVEDIL_MEMORY_BUDGET)")


def integer(value: object, name: str, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int in ``low .. high`` (TypeError for a non-integer or a bool,
    ValueError out of range, both naming ``name``)."""
    bounds = f">= {low}" if high is None else f"in {low} .. {high}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer {bounds}, got {value!r} "
                        f"({type(value).__name__})")
    number = int(value)
    if number < low or high is not None and number > high:
        raise ValueError(f"{name} must be an integer {bounds}, got {number}")
    return number


def flag(value: object, name: str) -> bool:
    """``value`` as a bool: only ``True``, ``False`` and numpy bools are flags."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def finite_number(value: object) -> bool:
    """Whether ``value`` is a real number (not a bool) that is finite as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int beyond float
        return False


def axis_index(axis: object, shape: tuple[int, ...], what: str = "x") -> int:
    """``axis`` as an int in ``-ndim .. ndim - 1`` for an array of ``shape``."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an integer, got {axis!r} ({type(axis).__name__})")
    index = int(axis)
    if not -len(shape) <= index < len(shape):
        raise ValueError(f"axis {index} is out of range for {what} of shape {shape}")
    return index
