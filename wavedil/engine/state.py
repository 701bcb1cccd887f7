"""What a saved stream state may hold, checked before anything is loaded.

A stream's ``state_dict()`` is ``{"meta": JSON, key: array, ...}`` (``wavedil.engine.stream``).
``load_state_dict`` refuses, with a ValueError or TypeError that names the key and quotes
the numbers, any state it could not continue exactly:

- ``meta``: a JSON object with exactly ``config`` (equal to the stream's, JSON types
  included: ``true`` is not ``1``), ``layout`` (None, or ``[ndim, batch, dtype]``: ndim 1, 2
  or 3, batch an integer from 1 to ``MAX_BATCH``, dtype float32 or float64, and what the
  stream takes: ``(T,)`` chunks need one input channel, a ``batch=`` stream 3-D chunks of
  its batch) and ``flushed`` (a JSON bool);
- the arrays: each stream kind declares its own keys as ``ArraySpec`` (``state_spec``),
  its children's keys come under ``{child}.``; a key no spec names is refused, a required
  key must be present, and every array must have the spec's dtype, shape (the last axis
  between ``shortest`` and the spec's length) and finite values within its bounds (a
  NaN or infinity loads under ``wavedil.nonfinite("confine")``: it may be what the stream
  let through);
- then each kind's ``check_state`` compares the arrays with each other (a history's length
  with the samples counted, say).

``check_arrays`` runs the array part on any ``{key: array}`` and spec.

Shape: histories are ``(B, C, n)`` with time last, as every stream exports them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .finite import policy

MAX_BATCH = 4096  # the most rows a loaded state may declare (its fresh buffers are per row)
INTEGER = "integer"  # ArraySpec.dtype of a count: any integer dtype, read as a Python int
FREE = None  # a spec value for ``prefix.*`` keys: another object's state, checked by it


@dataclass(frozen=True)
class ArraySpec:
    """What one array of a saved state must be.

    ``shape``: the exact shape, except the last axis when ``shortest`` is set (then it may
    hold ``shortest .. shape[-1]`` samples); ``dtype``: exact, or ``INTEGER``; ``required``:
    whether the key must be present; ``low`` / ``high``: bounds on every value; ``finite``:
    whether NaN and inf are refused.
    """

    shape: tuple[int, ...]
    dtype: np.dtype | str
    required: bool = True
    shortest: int | None = None
    low: float | None = None
    high: float | None = None
    finite: bool = True

    def describe(self) -> str:
        """The spec in words, for messages: ``float64 of shape (2, 3, <= 8)``."""
        dtype = "an integer" if isinstance(self.dtype, str) else f"{self.dtype}"
        if self.shortest is None or self.shortest == self.shape[-1]:
            return f"{dtype} of shape {self.shape}"
        lead = "".join(f"{n}, " for n in self.shape[:-1])
        last = f"<= {self.shape[-1]}" if self.shortest == 0 else \
            f"{self.shortest} to {self.shape[-1]}"
        return f"{dtype} of shape ({lead}{last})"


def history_spec(batch: int, channels: int, most: int, dtype: np.dtype, shortest: int = 0,
                 required: bool = False) -> ArraySpec:
    """A kept past ``(batch, channels, n)`` with ``shortest <= n <= most``."""
    return ArraySpec((batch, channels, most), dtype, required, shortest)


def count_spec(required: bool = True) -> ArraySpec:
    """A sample count: an integer scalar from 0 to 2**62."""
    return ArraySpec((), INTEGER, required, low=0, high=2**62)


def read_meta(state: Any) -> dict[str, Any]:
    """The ``meta`` entry of ``state`` as a dict with ``config``, ``layout`` and ``flushed``
    (``flushed`` checked here; ``same_json`` compares the config, ``check_layout`` the
    layout)."""
    if not isinstance(state, Mapping):
        raise TypeError(f"a stream state must be a mapping of names to arrays (as "
                        f"state_dict() gives), got {type(state).__name__}")
    bad = [key for key in state if not isinstance(key, str)]
    if bad:
        raise TypeError(f"a stream state's keys must be strings, got {bad[:3]!r}")
    if "meta" not in state:
        raise ValueError("not a wavedil stream state: no 'meta' entry")
    raw = np.asarray(state["meta"])
    if raw.shape != () or raw.dtype.kind != "U":
        raise ValueError(f"not a wavedil stream state: 'meta' must be a 0-d string array "
                         f"(JSON), got {raw.dtype} of shape {raw.shape}")
    try:
        meta = json.loads(str(raw), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ValueError("not a wavedil stream state: 'meta' is not readable JSON") from None
    keys = {"config", "layout", "flushed"}
    if not isinstance(meta, dict) or set(meta) != keys:
        got = sorted(meta) if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"state 'meta' must be a JSON object with keys {sorted(keys)}, "
                         f"got {got}")
    if not isinstance(meta["flushed"], bool):
        raise ValueError(f"state meta 'flushed' must be true or false, got "
                         f"{meta['flushed']!r}")
    return meta


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values, types included (``True`` is not ``1``, ``1`` is not ``"1"``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, (dict, list, str)) or isinstance(b, (dict, list, str)):
        return type(a) is type(b) and a == b
    return a == b


def check_layout(layout: Any, in_channels: int, batch: int | None) -> tuple[int, int, np.dtype]:
    """``meta["layout"]`` (not None) as ``(ndim, batch, dtype)``, checked against a stream of
    ``in_channels`` and fixed ``batch`` (None: any)."""
    if not isinstance(layout, list) or len(layout) != 3:
        raise ValueError(f"state meta 'layout' must be null or [ndim, batch, dtype], got "
                         f"{layout!r}")
    ndim, rows, name = layout
    if not _is_int(ndim) or ndim not in (1, 2, 3):
        raise ValueError(f"state layout ndim must be 1, 2 or 3, got {ndim!r}")
    if not _is_int(rows) or not 1 <= rows <= MAX_BATCH:
        raise ValueError(f"state layout batch must be an integer from 1 to {MAX_BATCH} "
                         f"(wavedil.engine.state.MAX_BATCH), got {rows!r}")
    if not isinstance(name, str) or name not in ("<f4", "<f8", ">f4", ">f8", "=f4", "=f8",
                                                 "float32", "float64"):
        raise ValueError(f"state layout dtype must be float32 or float64, got {name!r}")
    dtype = np.dtype(name).newbyteorder("=")
    if ndim < 3 and rows != 1:
        raise ValueError(f"state layout: {ndim}-D chunks have batch 1, got batch {rows}")
    if ndim == 1 and in_channels != 1:
        raise ValueError(f"state layout: (T,) chunks need 1 input channel, this stream "
                         f"takes {in_channels}")
    if batch is not None and rows != batch:
        raise ValueError(f"state has batch {rows}, this stream expects {batch}")
    if batch is not None and ndim != 3:
        raise ValueError(f"state has {ndim}-D chunks, this stream takes ({batch}, "
                         f"{in_channels}, T) chunks (batch={batch})")
    return ndim, rows, dtype


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_arrays(arrays: Mapping[str, Any], spec: Mapping[str, ArraySpec | None]) -> None:
    """Every key of ``arrays`` named by ``spec`` (or under a ``prefix.*`` key of it), every
    required key present, every array as its spec says (dtype, shape, finite, bounds)."""
    free = tuple(key[:-1] for key, value in spec.items() if key.endswith(".*") and value is FREE)
    unknown = sorted(key for key in arrays if key not in spec and not key.startswith(free))
    if unknown:
        expected = sorted(spec)
        raise ValueError(f"state has unexpected key(s) {_few(unknown)} for this stream "
                         f"(its keys: {_few(expected)})")
    missing = {key: value for key, value in spec.items()
               if value is not None and value.required and key not in arrays}
    if missing:
        raise ValueError(f"state is missing {_few(sorted(missing))}: " + "; ".join(
            f"'{key}' ({value.describe()})" for key, value in sorted(missing.items())[:3]))
    for key, value in arrays.items():
        want = spec.get(key)
        if want is None:  # under a free prefix: another object's, only no pickles here
            if np.asarray(value).dtype.hasobject:
                raise TypeError(f"state '{key}' must be a plain numpy array, got objects")
        else:
            check_array(key, value, want)


def check_array(key: str, value: Any, spec: ArraySpec) -> np.ndarray:
    """``value`` as its spec says, or a ValueError that names ``key`` and quotes both."""
    array = _plain_array(key, value)
    if isinstance(spec.dtype, str):  # INTEGER
        if array.dtype.kind not in "iu":
            raise ValueError(f"state '{key}' must be an integer array, got {array.dtype} "
                             f"{array.shape}")
    elif array.dtype != spec.dtype:
        raise ValueError(f"state '{key}' must be {spec.describe()}, got {array.dtype} "
                         f"{array.shape}")
    shape = spec.shape
    if spec.shortest is None:
        fits = array.shape == shape
    else:
        fits = (array.ndim == len(shape) and array.shape[:-1] == shape[:-1]
                and spec.shortest <= array.shape[-1] <= shape[-1])
    if not fits:
        raise ValueError(f"state '{key}' must be {spec.describe()}, got {array.dtype} "
                         f"{array.shape}")
    if (spec.finite and array.dtype.kind == "f" and policy() == "refuse"
            and not np.all(np.isfinite(array))):
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"state '{key}' must be finite, got {bad} non-finite value(s) of "
                         f"{array.size}")
    if array.size and spec.low is not None and np.min(array) < spec.low:
        raise ValueError(f"state '{key}' must be >= {spec.low}, got {np.min(array)!r}")
    if array.size and spec.high is not None and np.max(array) > spec.high:
        raise ValueError(f"state '{key}' must be <= {spec.high}, got {np.max(array)!r}")
    return array


def _plain_array(key: str, value: Any) -> np.ndarray:
    """``value`` as a numeric numpy array (no objects, strings or records)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:  # ragged lists and the like
        raise TypeError(f"state '{key}' must be a numeric numpy array, got "
                        f"{type(value).__name__} ({error})") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"state '{key}' must be a numeric numpy array, got {array.dtype} "
                        f"({type(value).__name__})")
    return array


def _few(keys: list[str]) -> str:
    shown = ", ".join(repr(k) for k in keys[:6])
    return f"[{shown}{', ...' if len(keys) > 6 else ''}] ({len(keys)})" if len(keys) > 6 \
        else f"[{shown}]"


def check_delay_lines(arrays: Mapping[str, Any], delays: Mapping[str, int],
                      fed: int | None = None, source: str = "") -> int | None:
    """Delay lines ``{key: delay}`` pushed the same samples hold ``min(delay, fed)`` each
    (``fed``: the samples pushed, as ``source`` says, or None: any one count that fits them
    all). Returns the count (None when every line is full: at least the longest delay)."""
    held = {key: np.shape(arrays[key])[-1] for key in delays if key in arrays}
    known = fed
    if known is None:
        short = [n for key, n in held.items() if n < delays[key]]
        known = min(short) if short else None
    expected = max(delays.values(), default=0) if known is None else known
    wrong = {key: n for key, n in held.items() if n != min(delays[key], expected)}
    if wrong:
        key, n = next(iter(wrong.items()))
        raise ValueError(f"state '{key}' holds {n} samples, expected "
                         f"{min(delays[key], expected)} (its delay {delays[key]}, {expected} "
                         f"samples pushed{source or ' through every delay line'})")
    return known


def check_together(arrays: Mapping[str, Any], keys: list[str], why: str) -> None:
    """The ``keys`` are all present or all absent (``why``: what makes them go together)."""
    present = [key for key in keys if key in arrays]
    if present and len(present) != len(keys):
        missing = [key for key in keys if key not in arrays]
        raise ValueError(f"state has {present[:3]} but not {missing[:3]}: {why}")


def scalar(arrays: Mapping[str, Any], key: str, default: int = 0) -> int:
    """An integer scalar of a checked state (``default`` if absent)."""
    return int(arrays[key]) if key in arrays else default


MAX_FILL = 1 << 14  # the most samples a probe stream is fed to learn a stream's fill


def fill_table(lengths: Callable[[], Mapping[str, Any]], feed: Callable[[], object],
               steps: int) -> list[dict[str, int]] | None:
    """The histories' lengths (``lengths()``: a probe's state) after 0, 1, ... ``steps``
    samples (``feed()``: one more sample), None if ``steps`` exceeds ``MAX_FILL``."""
    if steps > MAX_FILL:
        return None
    table = []
    for _ in range(steps + 1):
        table.append({key: np.shape(value)[-1] for key, value in lengths().items()
                      if key.endswith("history")})
        feed()
    return table


def check_fill(arrays: Mapping[str, Any], table: list[dict[str, int]] | None) -> None:
    """The ``*history`` keys and lengths of ``arrays`` are those of one row of ``table``
    (one count of samples fed): with lookahead the convs and delay lines fill in turn, each
    history saved from its first sample on."""
    if table is None:
        return
    held = {key: np.shape(value)[-1] for key, value in arrays.items() if key.endswith("history")}
    if held in table:
        return
    keys = sorted(set(held).union(*table))
    best = max(table, key=lambda row: sum(row.get(k) == held.get(k) for k in keys))
    key = next(k for k in keys if held.get(k) != best.get(k))
    def shown(n: int | None) -> str:
        return "no array" if n is None else f"{n} samples"

    raise ValueError(f"state '{key}' holds {shown(held.get(key))} where the other "
                     f"histories say {shown(best.get(key))}: no "
                     f"count of samples fed leaves these (with lookahead the convs fill in turn, "
                     f"each saved from its first sample on)")
