"""Offline calls of a causal model split over threads in time.

A causal model's output at time ``n`` depends on the inputs ``n - past .. n`` only
(``past = receptive_field - 1``). So a long signal can be cut into stretches, one per
thread: each thread runs a fresh stream from ``past`` samples before its stretch (zeros
before that, as at the true start) and keeps the outputs of its stretch. Those outputs are
the offline outputs: the same operations on the same values, except that the matrix
products may sum in another order (DESIGN.md tolerances).

Why threads in time rather than BLAS's threads: with numpy's BLAS on 2 threads, each
product leaves half its output in the other core's cache, and the compiled pass that reads
it next ran 2.5x slower than on hot data (78 against 30 us per 2048 x 64 block). With one
stretch per core, each thread runs BLAS on one thread and keeps its data in its own core's
cache: the offline TCN of the benchmark took 137-147 ms in 2 stretches against 173-176 ms in
one (same process, interleaved). The cost is ``past`` extra samples per extra stretch, so a
stretch must hold at least ``max(MIN_STRETCH, 4 * past)`` samples.

While the threads run, numpy's BLAS is limited to one thread (``threadpoolctl``), a process
setting; a lock keeps a second split call (say from a Dask worker thread) from changing it
at the same time: that call runs on one thread instead.

Shape: ``x`` ``(T,)``, ``(C, T)`` or ``(B, C, T)``; ``local_cond`` ``(..., T)`` is cut
with it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._checks import positive_int

MIN_STRETCH = 8192  # samples: shorter stretches are not worth a thread
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


def run_offline(model, x, cond: dict, workers=None) -> np.ndarray:
    """``model``'s offline output: a fresh stream over ``x``, split over ``workers``
    threads in time (default: numpy's BLAS thread count)."""
    x = np.asarray(x)
    past = model.receptive_field - 1
    local = cond.get("local_cond")
    n = x.shape[-1] if x.ndim in (1, 2, 3) else 0  # else one stream, which raises the error
    if local is not None and np.shape(local)[-1:] != x.shape[-1:]:
        n = 0
    if workers is not None:
        workers = positive_int(workers, "workers")
    elif n >= 2 * max(MIN_STRETCH, 4 * past):  # long enough to split: ask the BLAS (~2 ms)
        workers = blas_threads()
    parts = stretches(n, past, workers or 1)
    if len(parts) == 1 or not _SPLIT_LOCK.acquire(blocking=False):
        return _fresh_run(model, x, cond)
    try:
        from threadpoolctl import threadpool_limits

        def stretch(bounds):
            start, stop = bounds
            first = max(0, start - past)  # the warm-up: outputs before start are dropped
            return _fresh_run(model, x[..., first:stop], _cut(cond, first, stop))[
                ..., start - first:]

        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(len(parts)) as pool:
            outputs = list(pool.map(stretch, parts))
    finally:
        _SPLIT_LOCK.release()
    return np.concatenate(outputs, axis=-1)


def _fresh_run(model, x, cond) -> np.ndarray:
    stream = model.stream()
    y = stream.process(x, **cond)
    stream.flush()  # causal: nothing held back
    return y


def _cut(cond: dict, start: int, stop: int) -> dict:
    return {k: (np.asarray(v)[..., start:stop] if k == "local_cond" and v is not None else v)
            for k, v in cond.items()}
