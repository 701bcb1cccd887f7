"""The streaming contract shared by every streamable operator (DESIGN.md)::

    y = op(x)                              # offline
    s = op.stream()                        # fresh state
    parts = [s.process(c) for c in chunks] + [s.flush()]
    np.concatenate(parts, -1) == y         # for any split of x

``Stream`` holds what all streams share: the layout and dtype fixed by the first chunk
(``(T,)``, ``(C, T)`` or ``(B, C, T)``), input checks that leave the state untouched when a
chunk is rejected (a NaN or infinite sample too, unless ``wavedil.nonfinite("confine")``),
and a state made of plain numpy arrays (``state_dict``) that can be saved with ``np.savez``
and loaded into a fresh stream of the same configuration.

Latency: ``process`` holds back the first ``latency`` samples of the stream (it returns
``len(chunk)`` samples once ``latency`` samples have been seen) and ``flush`` returns them
at the end, so concatenated outputs equal the offline result sample for sample; a causal
stream has latency 0 and an empty flush.

The state protocol. A stream keeps what it remembers in ``self.state`` (one typed object
per stream kind, None before the first chunk) and its parts in named children. A kind
implements, on ``(B, C, m)`` arrays:

- ``config()``: its configuration as JSON (a saved state must come from the same one);
- ``new_state(batch, dtype)``: a fresh state (the default: None, nothing to remember);
- ``step(x)`` / ``finish()``: a chunk in, its ready output out; the end of the stream;
- ``export_state()`` / ``import_state(arrays, batch, dtype)``: its own state as plain
  arrays, and back (checked: a wrong shape or dtype is a ValueError that quotes both);
- ``children()``: its named sub-streams (a composite calls their ``step``/``finish``);
- ``state_spec(layout)`` / ``check_state(arrays, layout)``: what its saved arrays must be
  (``wavedil.engine.state.ArraySpec`` per key), and how they must agree with each other.

``start``, ``reset``, ``state_dict`` and ``load_state_dict`` walk the children by name, so a
composite never reaches into its parts: ``{name}.{key}`` holds child ``name``'s ``key``.
``load_state_dict`` checks the whole state (``wavedil.engine.state``: meta types, every key
known, every array's presence, shape, dtype and finiteness) before it changes anything.

A stream is a single-consumer object: one thread at a time may use it. ``process``,
``flush``, ``reset``, ``state_dict`` and ``load_state_dict`` called from a second thread
while another one runs raise RuntimeError (nothing is changed); give each thread its own
stream, or hold a lock around the calls. Handing a stream from one thread to another
between calls is fine.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

from .checks import as_float_array
from .finite import check_signal
from .params import integer
from .state import ArraySpec, check_arrays, check_layout, read_meta, same_json

_Method = TypeVar("_Method", bound=Callable[..., Any])


def single_consumer(method: _Method) -> _Method:
    """``method`` of a stream, run by one thread at a time: a call while another thread is
    in one of the stream's guarded methods raises RuntimeError (the stream is unchanged);
    a nested call from the same thread (an override calling the base) runs.

    The user's thread id sits in the stream's ``__dict__`` while it runs: ``setdefault``
    is atomic, so of two threads that find the stream free only one gets it. The error
    names the public method: a private one that serves it (``_process``) without its
    leading underscore.
    """
    name = method.__name__.lstrip("_")

    @functools.wraps(method)
    def guarded(self: Stream, *args: Any, **kwargs: Any) -> Any:
        me = threading.get_ident()
        slot = self.__dict__
        user = slot.get("_user")
        if user == me:  # nested
            return method(self, *args, **kwargs)
        if user is None and slot.setdefault("_user", me) == me:
            try:
                return method(self, *args, **kwargs)
            finally:
                del slot["_user"]
        raise RuntimeError(
            f"{type(self).__name__}.{name}() was called while another thread is "
            f"using this stream: a stream is a single-consumer object, use it from one "
            f"thread at a time (give each thread its own stream, or hold a lock around its "
            f"calls)")

    return cast(_Method, guarded)


@dataclass(frozen=True)
class Layout:
    """What the first chunk fixes: its number of dimensions, the batch size and dtype."""

    ndim: int
    batch: int
    dtype: np.dtype


class Stream:
    """Base class: chunk checks, layout, flush bookkeeping, the state protocol, the
    single-consumer guard."""

    def __init__(self, in_channels: int, out_channels: int, latency: int,
                 batch: int | None = None) -> None:
        self.in_channels = integer(in_channels, "in_channels")
        self.out_channels = integer(out_channels, "out_channels")
        self.latency = integer(latency, "latency", low=0)
        self.batch = None if batch is None else integer(batch, "batch")
        self.layout: Layout | None = None  # fixed by the first chunk (or by start)
        self.flushed = False
        self.state: Any = None
        # (layout, dtype, shape but time, (B, C)) of a chunk accepted as given under
        # the current layout: a chunk of the same kind skips the checks (accept)
        self._seen: tuple[Layout, np.dtype, tuple[int, ...], tuple[int, int]] | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Stream:
        """A copy that continues as this stream would. Its state is rebuilt from
        ``state_dict``: buffers that are views into one arena would come apart under a
        plain deep copy. Modules (compiled kernels) are shared."""
        twin = type(self).__new__(type(self))
        memo[id(self)] = twin
        for key, value in self.__dict__.items():
            if key != "_user":  # (the single-consumer guard's claim stays here)
                twin.__dict__[key] = value if isinstance(value, ModuleType) else \
                    copy.deepcopy(value, memo)
        if self.layout is not None:
            twin.load_state_dict(self.state_dict())
        return twin

    # -- the contract -----------------------------------------------------------------------
    @single_consumer
    def process(self, chunk: npt.ArrayLike) -> np.ndarray:
        """Feed ``chunk`` (``(T,)``, ``(C, T)`` or ``(B, C, T)``); return the ready output."""
        x, layout = self.accept(chunk)
        self.begin(layout)
        return self.restore(self.step(x))

    @single_consumer
    def flush(self) -> np.ndarray:
        """End the stream: the last ``latency`` samples (empty for a causal stream)."""
        if self.flushed:
            raise ValueError("this stream was already flushed; call reset() to start again")
        if self.layout is None:  # never fed: an empty output of the declared batch
            batch = 1 if self.batch is None else self.batch
            self.start(batch, np.dtype(np.float64), 3 if self.batch is not None else 2)
        y = self.finish()
        self.flushed = True
        return self.restore(y)

    @single_consumer
    def reset(self) -> None:
        """Forget everything: the stream is as new (layout and dtype free again)."""
        self.layout = None
        self.flushed = False
        self.state = None
        for child in self.children().values():
            child.reset()

    @single_consumer
    def state_dict(self) -> dict[str, np.ndarray]:
        """The whole state as plain numpy arrays (``np.savez``-able, no pickling)."""
        meta: dict[str, Any] = {"config": self.config(), "layout": None,
                                "flushed": self.flushed}
        if self.layout is not None:
            layout = self.layout
            meta["layout"] = [layout.ndim, layout.batch, layout.dtype.str]
        state = {"meta": np.array(json.dumps(meta))}
        if self.layout is not None:
            state.update(self.arrays())
        return state

    @single_consumer
    def load_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> None:
        """Continue from ``state`` (as ``state_dict`` gave it), checked whole first
        (``wavedil.engine.state``): a state of another configuration, or one this stream
        could not continue exactly, raises ValueError/TypeError and changes nothing."""
        meta = read_meta(state)
        mine = self.config()
        if not same_json(meta["config"], mine):
            raise ValueError(f"state is from another configuration: "
                             f"{_config_difference(mine, meta['config'])}")
        arrays = {key: value for key, value in state.items() if key != "meta"}
        layout = None
        if meta["layout"] is not None:
            layout = Layout(*check_layout(meta["layout"], self.in_channels, self.batch))
            check_arrays(arrays, self.full_state_spec(layout))
            if not meta["flushed"]:  # (a flushed stream never continues: only its shapes)
                self.check_states(arrays, layout)
        elif arrays:
            raise ValueError(f"a state without a layout (no chunk seen) holds no arrays, "
                             f"got {sorted(arrays)[:6]}")
        before = self.state_dict()
        try:
            self._apply(arrays, layout, meta["flushed"])
        except Exception:  # (a check missed): the stream goes back to where it was
            self._apply(before, *_layout_of(before))
            raise

    # -- the composite protocol -------------------------------------------------------------
    def children(self) -> Mapping[str, Stream]:
        """The named sub-streams whose state is part of this stream's."""
        return {}

    def start(self, batch: int, dtype: npt.DTypeLike, ndim: int = 3) -> None:
        """Fix the layout (``ndim``-D chunks of ``batch`` rows in ``dtype``) and make a
        fresh state, here and in every child."""
        self.layout = Layout(ndim, batch, np.dtype(dtype))
        self.state = self.new_state(batch, np.dtype(dtype))
        for child in self.children().values():
            child.start(batch, dtype)

    def begin(self, layout: Layout) -> None:
        """Start with the first chunk's ``layout``, if not started yet."""
        if self.flushed:
            raise ValueError("this stream was flushed; call reset() before processing more")
        if self.layout is None:
            self.start(layout.batch, layout.dtype, layout.ndim)

    def arrays(self) -> dict[str, np.ndarray]:
        """This stream's state and its children's (``{name}.{key}``) as plain arrays."""
        out = dict(self.export_state())
        for name, child in self.children().items():
            out.update({f"{name}.{key}": value for key, value in child.arrays().items()})
        return out

    def full_state_spec(self, layout: Layout) -> dict[str, ArraySpec | None]:
        """``state_spec`` of this stream and of its children (``{name}.{key}``)."""
        spec = dict(self.state_spec(layout))
        for name, child in self.children().items():
            spec.update({f"{name}.{key}": value
                         for key, value in child.full_state_spec(layout).items()})
        return spec

    def check_states(self, arrays: Mapping[str, Any], layout: Layout) -> None:
        """``check_state`` here and in every child (on its ``{name}.`` entries; its
        errors quote the keys in full)."""
        self.check_state(arrays, layout)
        for name, child in self.children().items():
            mine = sub_state(arrays, name)
            try:
                child.check_states(mine, layout)
            except ValueError as error:
                message = str(error)
                for key in sorted(set(child.full_state_spec(layout)) | set(mine), key=len,
                                  reverse=True):
                    message = message.replace(f"'{key}'", f"'{name}.{key}'")
                raise ValueError(message) from None

    def load_arrays(self, arrays: Mapping[str, Any], batch: int, dtype: np.dtype) -> None:
        """Load ``arrays()`` of a stream of this configuration (after ``start``)."""
        self.import_state(arrays, batch, dtype)
        for name, child in self.children().items():
            child.load_arrays(sub_state(arrays, name), batch, dtype)

    # -- for each stream kind ---------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The configuration as JSON (a saved state must come from the same one); each stream kind
        defines it."""
        raise NotImplementedError

    def new_state(self, batch: int, dtype: np.dtype) -> Any:
        """A fresh state for ``batch`` rows of ``dtype`` (None: nothing to remember)."""
        return None

    def step(self, x: np.ndarray) -> np.ndarray:
        """``(B, C_in, m)`` in, the ready ``(B, C_out, m')`` out."""
        raise NotImplementedError

    def finish(self) -> np.ndarray:
        """The last ``latency`` samples, ``(B, C_out, latency)``."""
        layout = self.layout
        assert layout is not None
        return np.zeros((layout.batch, self.out_channels, 0), layout.dtype)

    def export_state(self) -> dict[str, np.ndarray]:
        """This stream's own state (children excluded) as plain arrays."""
        return {}

    def import_state(self, arrays: Mapping[str, Any], batch: int, dtype: np.dtype) -> None:
        """Replace the fresh state by ``arrays`` (as ``export_state`` gave), checked."""

    def state_spec(self, layout: Layout) -> dict[str, ArraySpec | None]:
        """What each of this stream's own saved arrays must be, by key (children excluded;
        a ``prefix.*`` key mapped to None admits another object's state under ``prefix.``)."""
        return {}

    def check_state(self, arrays: Mapping[str, Any], layout: Layout) -> None:
        """Refuse saved arrays (already checked against ``state_spec``, children's under
        ``{name}.``) that disagree with each other; change nothing."""

    # -- layout ---------------------------------------------------------------------------
    def _apply(self, arrays: Mapping[str, Any], layout: Layout | None, flushed: bool) -> None:
        self.reset()
        if layout is not None:
            self.start(layout.batch, layout.dtype, layout.ndim)
            self.load_arrays(arrays, layout.batch, layout.dtype)
        self.flushed = flushed

    def accept(self, chunk: npt.ArrayLike) -> tuple[np.ndarray, Layout]:
        """``chunk`` as ``(B, C_in, m)`` and its layout, checked against this stream's
        (nothing changes here: a rejected chunk leaves the stream as it was)."""
        if self.flushed:
            raise ValueError("this stream was flushed; call reset() before processing more")
        seen = self._seen_view(chunk)
        if seen is not None:  # the hot loop: nothing to check again but the samples
            check_signal(cast(np.ndarray, chunk), "chunk")  # (quoted in the caller's shape)
            return seen, cast(Layout, self.layout)
        given = np.asarray(chunk)
        x = as_float_array(given, "chunk")
        if x.ndim not in (1, 2, 3):
            raise ValueError(f"chunk must be (T,), (C, T) or (B, C, T), got shape {x.shape}")
        batch = x.shape[0] if x.ndim == 3 else 1
        channels = 1 if x.ndim == 1 else x.shape[-2]
        if channels != self.in_channels:
            raise ValueError(
                f"expected {self.in_channels} input channels, got {channels} (shape {x.shape})"
            )
        if self.batch is not None and (x.ndim != 3 or batch != self.batch):
            raise ValueError(f"expected chunks of shape ({self.batch}, {self.in_channels}, T) "
                             f"for this stream (batch={self.batch}), got shape {x.shape}")
        layout = self.layout
        if layout is None:  # the first chunk fixes it
            layout = Layout(x.ndim, batch, x.dtype)
        else:  # later chunks are checked against it (no new object per chunk)
            if x.dtype != layout.dtype:
                read = "" if given.dtype == x.dtype else f" (read as {x.dtype})"
                raise TypeError(f"this stream carries {layout.dtype}, got a chunk of "
                                f"{given.dtype}{read}; the first chunk fixed the dtype: pass "
                                f"chunk.astype(np.{layout.dtype}) or reset() the stream")
            if (x.ndim, batch) != (layout.ndim, layout.batch):
                raise ValueError(f"this stream carries {layout.ndim}-D chunks with batch "
                                 f"{layout.batch}, got shape {x.shape}")
        check_signal(x, "chunk")  # the non-finite policy (wavedil.engine.finite)
        if x is chunk and self.layout is not None:
            self._seen = (self.layout, x.dtype, x.shape[:-1], (batch, channels))
        return x.reshape(batch, channels, x.shape[-1]), layout

    def _seen_view(self, chunk: Any) -> np.ndarray | None:
        """``chunk`` as ``(B, C_in, m)`` if it is an array like one the current layout took
        as given (same dtype, same shape but time), else None: its checks passed already."""
        seen = self._seen
        if seen is None or seen[0] is not self.layout or type(chunk) is not np.ndarray or \
                chunk.dtype is not seen[1] or chunk.shape[:-1] != seen[2]:
            return None
        return chunk if chunk.ndim == 3 else chunk.reshape(seen[3] + chunk.shape[-1:])

    def restore(self, y: np.ndarray) -> np.ndarray:
        """A ``(B, C_out, m)`` output in the layout of the input chunks."""
        assert self.layout is not None
        ndim = self.layout.ndim
        if ndim == 3:
            return y
        y = y[0]
        if ndim == 1 and y.shape[0] == 1:
            return y[0]
        return y


def _layout_of(state: Mapping[str, Any]) -> tuple[Layout | None, bool]:
    """The layout and flushed flag of a ``state_dict`` this process made (trusted)."""
    meta = json.loads(str(state["meta"]))
    layout = meta["layout"]
    return (None if layout is None else Layout(layout[0], layout[1], np.dtype(layout[2])),
            meta["flushed"])


def sub_state(state: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The entries of ``state`` under ``name.``, with that prefix removed."""
    prefix = f"{name}."
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}


def _config_difference(mine: dict, theirs) -> str:
    if not isinstance(theirs, dict):
        return f"expected a config like {mine}, got {_short(theirs)}"
    keys = sorted(set(mine) | set(theirs), key=str)
    parts = [f"{k}: expected {_short(mine.get(k))}, got {_short(theirs.get(k))}"
             for k in keys if not same_json(mine.get(k), theirs.get(k))]
    return "; ".join(parts[:8])


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def run_stream(op: Any, x: npt.ArrayLike, chunk_sizes: Iterable[int],
               **stream_kwargs: Any) -> np.ndarray:
    """Feed ``x`` to ``op.stream()`` in chunks of the given sizes (cycled), then flush.

    Returns the concatenated output, equal to ``op(x)`` by the streaming contract.
    """
    return feed_stream(op.stream(**stream_kwargs), x, chunk_sizes)


def feed_stream(stream: Any, x: npt.ArrayLike, chunk_sizes: Iterable[int]) -> np.ndarray:
    """Feed ``x`` to ``stream`` in chunks of the given sizes (cycled), flush, concatenate."""
    x = np.asarray(x)
    sizes = [integer(c, "chunk_sizes", low=0) for c in chunk_sizes]
    if not sizes or any(c < 0 for c in sizes) or not any(sizes):
        raise ValueError(f"chunk_sizes must be >= 0 with at least one > 0, got {chunk_sizes}")
    parts, start, i = [stream.process(x[..., :0])], 0, 0  # fixes the layout even if x is empty
    while start < x.shape[-1]:
        size = sizes[i % len(sizes)]
        parts.append(stream.process(x[..., start : start + size]))
        start += size
        i += 1
    parts.append(stream.flush())
    return np.concatenate(parts, axis=-1)
