"""Timing honesty for the stream commands: compile time measured (numba's compile events
during a throwaway first block), and the BLAS threads the streams run with."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np


def _compile_clock() -> Any:
    """A numba event listener adding up the seconds of outermost compilations (a kernel
    loaded from numba's cache is not compiled, so it adds nothing)."""
    from numba.core import event

    class CompileClock(event.Listener):
        def __init__(self) -> None:
            self.seconds, self._depth, self._start = 0.0, 0, 0.0

        def on_start(self, ev: Any) -> None:
            if self._depth == 0:
                self._start = time.perf_counter()
            self._depth += 1

        def on_end(self, ev: Any) -> None:
            self._depth -= 1
            if self._depth == 0:
                self.seconds += time.perf_counter() - self._start

    return CompileClock()


def warm_up(op: Any, channels: int, block: int) -> float:
    """Run one throwaway block of the real shape through a fresh stream (and flush it);
    return the seconds numba spent compiling (0.0 when every kernel came from its cache)."""
    from numba.core import event

    clock = _compile_clock()
    zeros = np.zeros((channels, 1, block), np.float32)
    event.register("numba:compile", clock)
    try:
        stream = op.stream(batch=channels)
        stream.process(zeros)
        stream.flush()
    finally:
        event.unregister("numba:compile", clock)
    return float(clock.seconds)


@contextmanager
def blas_threads(channels: int) -> Iterator[None]:
    """One BLAS thread while streaming: per-block matrices are small, and threads that
    wake for each of them cost more than they bring."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
