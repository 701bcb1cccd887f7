"""The streaming contract shared by every streamable operator (DESIGN.md).

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

Subclasses implement ``_process``/``_flush`` on ``(B, C, m)`` arrays and ``_state``/
``_load``/``_reset``; composite streams call their parts' ``_process`` directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from .checks import as_float_array


class Stream:
    """Base class: chunk checks, layout, flush bookkeeping and state round trips."""

    def __init__(self, in_channels: int, out_channels: int, latency: int,
                 batch: int | None = None) -> None:
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.latency = int(latency)
        if batch is not None and (isinstance(batch, bool) or int(batch) != batch or batch < 1):
            raise ValueError(f"batch must be None or an integer >= 1, got {batch!r}")
        self.batch = None if batch is None else int(batch)
        self._layout = None  # (ndim, batch size, dtype) fixed by the first chunk
        self._flushed = False

    # -- public API -------------------------------------------------------------------
    def process(self, chunk: npt.ArrayLike) -> np.ndarray:
        """Feed ``chunk`` (``(T,)``, ``(C, T)`` or ``(B, C, T)``); return the ready output."""
        if self._flushed:
            raise ValueError("this stream was flushed; call reset() before processing more")
        x = self._accept(chunk)
        return self._restore(self._process(x))

    def flush(self) -> np.ndarray:
        """End the stream: the last ``latency`` samples (empty for a causal stream)."""
        if self._flushed:
            raise ValueError("this stream was already flushed; call reset() to start again")
        if self._layout is None:
            self._flushed = True
            return np.zeros((self.out_channels, 0))
        y = self._flush()
        self._flushed = True
        return self._restore(y)

    def reset(self) -> None:
        """Forget everything: the stream is as new (layout and dtype free again)."""
        self._layout = None
        self._flushed = False
        self._reset()

    def state_dict(self) -> dict[str, np.ndarray]:
        """The whole state as plain numpy arrays (``np.savez``-able, no pickling)."""
        meta = {"config": self._config(), "layout": None, "flushed": self._flushed}
        if self._layout is not None:
            ndim, batch, dtype = self._layout
            meta["layout"] = [ndim, batch, np.dtype(dtype).str]
        state = {"meta": np.array(json.dumps(meta))}
        if self._layout is not None:
            state.update(self._state())
        return state

    def load_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> None:
        """Continue from ``state``; a state of another configuration raises ValueError."""
        try:
            meta = json.loads(str(np.asarray(state["meta"])))
        except (KeyError, TypeError, ValueError):
            raise ValueError("not a wavedil stream state: no readable 'meta' entry") from None
        mine = self._config()
        if meta.get("config") != mine:
            diff = _config_difference(mine, meta.get("config"))
            raise ValueError(f"state is from another configuration: {diff}")
        before = self.state_dict()
        try:
            self._apply(state, meta)
        except Exception:  # a rejected state leaves the stream as it was
            self._apply(before, json.loads(str(before["meta"])))
            raise

    def _apply(self, state, meta: dict) -> None:
        self.reset()
        if meta["layout"] is not None:
            ndim, batch, dtype = meta["layout"]
            if self.batch is not None and batch != self.batch:
                raise ValueError(f"state has batch {batch}, this stream expects {self.batch}")
            self._layout = (ndim, batch, np.dtype(dtype))
            self._load(state, batch, np.dtype(dtype))
        self._flushed = bool(meta["flushed"])

    # -- for subclasses ---------------------------------------------------------------
    def _config(self) -> dict:
        raise NotImplementedError

    def _process(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _flush(self) -> np.ndarray:
        raise NotImplementedError

    def _state(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _load(self, state, batch: int, dtype: np.dtype) -> None:
        raise NotImplementedError

    def _reset(self) -> None:
        raise NotImplementedError

    # -- layout ---------------------------------------------------------------------------
    def _accept(self, chunk) -> np.ndarray:
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
        if self._layout is None:
            self._layout = (x.ndim, batch, x.dtype)
        else:
            ndim, want_batch, dtype = self._layout
            if x.dtype != dtype:
                raise TypeError(f"this stream carries {dtype}, got a chunk of {x.dtype}")
            if (x.ndim, batch) != (ndim, want_batch):
                raise ValueError(
                    f"this stream carries {ndim}-D chunks with batch {want_batch}, "
                    f"got shape {x.shape}"
                )
        return x.reshape(batch, channels, x.shape[-1])

    def _restore(self, y: np.ndarray) -> np.ndarray:
        ndim = self._layout[0]
        if ndim == 3:
            return y
        y = y[0]
        if ndim == 1 and y.shape[0] == 1:
            return y[0]
        return y


def nested_state(parts: Iterable[tuple[str, Stream]]) -> dict[str, np.ndarray]:
    """The states of named sub-streams in one flat dict: ``{"name.key": array}``."""
    return {f"{name}.{key}": value
            for name, part in parts for key, value in part._state().items()}


def sub_state(state: Mapping[str, Any], name: str) -> dict:
    """The entries of ``state`` under ``name.``, with that prefix removed."""
    prefix = f"{name}."
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}


def load_nested_state(parts: Iterable[tuple[str, Stream]], state: Mapping[str, Any], batch: int,
                      dtype: np.dtype) -> None:
    """Load each named sub-stream from its entries of a ``nested_state`` dict."""
    for name, part in parts:
        part._layout = (3, batch, dtype)
        part._load(sub_state(state, name), batch, dtype)


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
