"""Offline calls of a model split over threads: by batch rows, or in time.

A batch of several signals splits into groups of rows, one stream per thread. A single
long signal splits in time: a model's output at time ``n`` depends on the inputs
``n - past .. n + latency`` only (its spec tree's extents), so each thread runs a fresh
stream from ``past`` samples before its stretch to ``latency`` samples after it (zeros
beyond, as at the true ends: every intermediate sample an output of the stretch reads is
then computed from the true inputs) and keeps the outputs of its stretch. Either way the
outputs are the offline outputs: the same operations on the same values, except that the
matrix products may sum in another order (DESIGN.md tolerances).

Why threads rather than BLAS's threads: with BLAS on several threads, the compiled pass
after each product ran much slower (the product leaves part of its output in another core's
cache); one part per core, each with a one-thread BLAS, keeps the data in one cache
(benchmarks/RESULTS.md, "Measurements behind design choices"). A stretch costs
``past + latency`` extra samples, so it must hold at least
``max(MIN_STRETCH, 4 * (past + latency))`` samples; a group at least ``MIN_STRETCH``
samples in all.

While the threads run, numpy's BLAS is limited to one thread (``threadpoolctl``), a process
setting; a lock keeps a second split call (say from a Dask worker thread) from changing it
at the same time: that call runs on one thread instead.

Shape: ``x`` ``(T,)``, ``(C, T)`` or ``(B, C, T)``; ``local_cond`` ``(..., T)`` and a
batched ``global_cond`` ``(B, C_gc)`` are cut with it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..engine.checks import positive_int
from ..engine.finite import as_signal, in_task


class _Splittable(Protocol):
    """What a split call needs of a model (``wavedil.models.base.Model`` has it)."""

    @property
    def receptive_field(self) -> int: ...

    @property
    def latency(self) -> int: ...

    def stream(self, batch: int | None = None) -> Any: ...

MIN_STRETCH = 8192  # samples: less work is not worth a thread
_SPLIT_LOCK = threading.Lock()


def blas_threads() -> int:
    """The thread count of the BLAS library numpy calls (1 if it cannot be told)."""
    from threadpoolctl import threadpool_info

    return max((info["num_threads"] for info in threadpool_info()
                if info["user_api"] == "blas"), default=1)


def stretches(n: int, past: int, workers: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of at most ``workers`` equal stretches of ``n`` samples, each of
    at least ``max(MIN_STRETCH, 4 * past)`` samples (one stretch if ``n`` is short).

    >>> stretches(48000, 2044, 2)
    [(0, 24000), (24000, 48000)]
    >>> stretches(10000, 2044, 2)
    [(0, 10000)]
    """
    count = max(1, min(workers, n // max(MIN_STRETCH, 4 * past)))
    bounds = [n * i // count for i in range(count + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def batch_groups(batch: int, n: int, workers: int) -> list[tuple[int, int]]:
    """``[first, stop)`` rows of at most ``workers`` groups of a batch of ``batch``
    signals of ``n`` samples, each group at least ``MIN_STRETCH`` samples in all.

    >>> batch_groups(4, 12000, 2)
    [(0, 2), (2, 4)]
    >>> batch_groups(3, 1000, 2)
    [(0, 3)]
    """
    rows = -(-MIN_STRETCH // n) if n else batch + 1  # the fewest rows a group may hold
    count = max(1, min(workers, batch // rows))
    bounds = [batch * i // count for i in range(count + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


# The policy the streams of an offline call run under: the call checked its input (and
# conditioning) once, by the policy in force, so its streams need not check those samples
# again (a model's policy only decides what is checked).
CHECKED = "confine"


def run_offline(model: _Splittable, x: npt.ArrayLike, cond: dict[str, npt.ArrayLike | None],
                workers: int | None = None) -> np.ndarray:
    """``model``'s offline output: a fresh stream over ``x``, split over ``workers``
    threads (default: numpy's BLAS thread count) by batch rows or, for one signal, in
    time."""
    x = as_signal(x, "x")  # the non-finite policy, on the whole input (its indices)
    cond = {key: None if value is None else as_signal(value, key)
            for key, value in cond.items()}
    if workers is not None:
        workers = positive_int(workers, "workers")
    future = model.latency
    past = model.receptive_field - 1 - future
    batch, n = _split_shape(x, cond)
    if batch > 1:
        split, axis, run = partial(batch_groups, batch, n), 0, partial(_group, model, x, cond)
    else:
        split, axis, run = partial(stretches, n, past + future), -1, partial(
            _stretch, model, x, cond, past, future)
    if workers is None:  # asking the BLAS is slow: only if the input is long enough to split
        workers = blas_threads() if len(split(2)) > 1 else 1
    parts = split(workers)
    if len(parts) == 1 or not _SPLIT_LOCK.acquire(blocking=False):
        with in_task(CHECKED):
            return _fresh_run(model, x, cond)
    try:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(len(parts)) as pool:
            outputs = list(pool.map(partial(_run_in, CHECKED, run), parts))
    finally:
        _SPLIT_LOCK.release()
    return np.concatenate(outputs, axis=axis)


def _split_shape(x: np.ndarray, cond: dict) -> tuple[int, int]:
    """``(batch rows to split, samples)``; ``(1, 0)`` (no split) for inputs the stream
    will refuse, so that it raises its own error."""
    if x.ndim not in (1, 2, 3):
        return 1, 0
    batch = x.shape[0] if x.ndim == 3 else 1
    local, global_ = cond.get("local_cond"), cond.get("global_cond")
    if local is not None and np.shape(local)[-1:] != x.shape[-1:]:
        return 1, 0
    if batch > 1 and any(v is not None and np.shape(v)[:1] != (batch,)
                         for v in (local, global_)):
        return 1, 0
    return batch, x.shape[-1]


def _run_in(setting: str, run: Any, part: Any) -> np.ndarray:
    """``run(part)`` in a worker thread, its input checked already (``CHECKED``)."""
    with in_task(setting):
        return run(part)


def _group(model: Any, x: np.ndarray, cond: dict, rows: tuple[int, int]) -> np.ndarray:
    first, stop = rows
    return _fresh_run(model, x[first:stop], _rows(cond, first, stop))


def _stretch(model: Any, x: np.ndarray, cond: dict, past: int, future: int,
             bounds: tuple[int, int]) -> np.ndarray:
    start, stop = bounds
    first = max(0, start - past)  # the warm-up: outputs before start are dropped
    last = min(x.shape[-1], stop + future)  # the lookahead: outputs after stop too
    return _fresh_run(model, x[..., first:last], cut_in_time(cond, first, last))[
        ..., start - first : stop - first]


def _fresh_run(model: Any, x: np.ndarray, cond: dict) -> np.ndarray:
    stream = model.stream()
    y = stream.process(x, **cond)
    tail = stream.flush()  # the held-back samples (none if causal)
    return np.concatenate([y, tail], axis=-1) if tail.shape[-1] else y


def cut_in_time(cond: dict[str, Any], start: int, stop: int) -> dict[str, Any]:
    """The conditioning of samples ``start : stop``: ``local_cond`` is cut, the rest kept."""
    return {k: (np.asarray(v)[..., start:stop] if k == "local_cond" and v is not None else v)
            for k, v in cond.items()}


def _rows(cond: dict, first: int, stop: int) -> dict:
    return {k: (None if v is None else np.asarray(v)[first:stop]) for k, v in cond.items()}
