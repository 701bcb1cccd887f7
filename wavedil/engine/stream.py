"""The streaming contract shared by every streamable operator (DESIGN.md)::

    y = op(x)                              # offline
    s = op.stream()                        # fresh state
    parts = [s.process(c) for c in chunks] + [s.flush()]
    np.concatenate(parts, -1) == y         # for any split of x

``Stream`` holds what all streams share: the layout and dtype fixed by the first chunk
(``(T,)``, ``(C, T)`` or ``(B, C, T)``), input checks that leave the state untouched when a
chunk is rejected, and a state made of plain numpy arrays (``state_dict``) that can be
saved with ``np.savez`` and loaded into a fresh stream of the same configuration.

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
- ``children()``: its named sub-streams (a composite calls their ``step``/``finish``).

``start``, ``reset``, ``state_dict`` and ``load_state_dict`` walk the children by name, so a
composite never reaches into its parts: ``{name}.{key}`` holds child ``name``'s ``key``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .checks import as_float_array


@dataclass(frozen=True)
class Layout:
    """What the first chunk fixes: its number of dimensions, the batch size and dtype."""

    ndim: int
    batch: int
    dtype: np.dtype


class Stream:
    """Base class: chunk checks, layout, flush bookkeeping, the state protocol."""

    def __init__(self, in_channels: int, out_channels: int, latency: int,
                 batch: int | None = None) -> None:
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.latency = int(latency)
        if batch is not None and (isinstance(batch, bool) or int(batch) != batch or batch < 1):
            raise ValueError(f"batch must be None or an integer >= 1, got {batch!r}")
        self.batch = None if batch is None else int(batch)
        self.layout: Layout | None = None  # fixed by the first chunk (or by start)
        self.flushed = False
        self.state: Any = None

    # -- the contract -----------------------------------------------------------------------
    def process(self, chunk: npt.ArrayLike) -> np.ndarray:
        """Feed ``chunk`` (``(T,)``, ``(C, T)`` or ``(B, C, T)``); return the ready output."""
        x, layout = self.accept(chunk)
        self.begin(layout)
        return self.restore(self.step(x))

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

    def reset(self) -> None:
        """Forget everything: the stream is as new (layout and dtype free again)."""
        self.layout = None
        self.flushed = False
        self.state = None
        for child in self.children().values():
            child.reset()

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

    def load_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> None:
        """Continue from ``state``; a state of another configuration raises ValueError."""
        try:
            meta = json.loads(str(np.asarray(state["meta"])))
        except (KeyError, TypeError, ValueError):
            raise ValueError("not a wavedil stream state: no readable 'meta' entry") from None
        mine = self.config()
        if not isinstance(meta, dict) or meta.get("config") != mine:
            theirs = meta.get("config") if isinstance(meta, dict) else meta
            raise ValueError(f"state is from another configuration: "
                             f"{_config_difference(mine, theirs)}")
        before = self.state_dict()
        try:
            self._apply(state, meta)
        except Exception:  # a rejected state leaves the stream as it was
            self._apply(before, json.loads(str(before["meta"])))
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

    # -- layout ---------------------------------------------------------------------------
    def _apply(self, state: Mapping[str, Any], meta: dict[str, Any]) -> None:
        self.reset()
        if meta["layout"] is not None:
            ndim, batch, dtype = meta["layout"]
            if self.batch is not None and batch != self.batch:
                raise ValueError(f"state has batch {batch}, this stream expects {self.batch}")
            self.start(batch, np.dtype(dtype), ndim)
            self.load_arrays(state, batch, np.dtype(dtype))
        self.flushed = bool(meta["flushed"])

    def accept(self, chunk: npt.ArrayLike) -> tuple[np.ndarray, Layout]:
        """``chunk`` as ``(B, C_in, m)`` and its layout, checked against this stream's
        (nothing changes here: a rejected chunk leaves the stream as it was)."""
        if self.flushed:
            raise ValueError("this stream was flushed; call reset() before processing more")
        x = as_float_array(chunk, "chunk")
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
                raise TypeError(f"this stream carries {layout.dtype}, got a chunk of {x.dtype}")
            if (x.ndim, batch) != (layout.ndim, layout.batch):
                raise ValueError(f"this stream carries {layout.ndim}-D chunks with batch "
                                 f"{layout.batch}, got shape {x.shape}")
        return x.reshape(batch, channels, x.shape[-1]), layout

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


def sub_state(state: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The entries of ``state`` under ``name.``, with that prefix removed."""
    prefix = f"{name}."
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}


def _config_difference(mine: dict, theirs) -> str:
    if not isinstance(theirs, dict):
        return f"expected a config like {mine}, got {theirs!r}"
    keys = sorted(set(mine) | set(theirs), key=str)
    parts = [f"{k}: expected {mine.get(k)!r}, got {theirs.get(k)!r}"
             for k in keys if mine.get(k) != theirs.get(k)]
    return "; ".join(parts)


def run_stream(op: Any, x: npt.ArrayLike, chunk_sizes: Iterable[int],
               **stream_kwargs: Any) -> np.ndarray:
    """Feed ``x`` to ``op.stream()`` in chunks of the given sizes (cycled), then flush.

    Returns the concatenated output, equal to ``op(x)`` by the streaming contract.
    """
    return feed_stream(op.stream(**stream_kwargs), x, chunk_sizes)


def feed_stream(stream: Any, x: npt.ArrayLike, chunk_sizes: Iterable[int]) -> np.ndarray:
    """Feed ``x`` to ``stream`` in chunks of the given sizes (cycled), flush, concatenate."""
    x = np.asarray(x)
    sizes = [int(c) for c in chunk_sizes]
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
