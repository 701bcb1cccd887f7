"""The compiled chain step (``wavedil.engine.blocks.ResidualChainStep``) on two threads.

A chunk of a few samples takes one core microseconds per sample, too few to hand to a
thread pool per chunk. ``ChainThreads`` keeps one worker thread that waits in compiled code
(``wavedil.engine._jit.chain_parts.serve``): the caller publishes each chunk in a shared
control array, both threads compute half of every conv's output channels (each streams half
of the weights), one conv after the other (a conv reads all of its input channels); the
caller computes a half the worker has not started by the time its own is done (a worker
waiting for a core delays nothing). A chunk of one sample is summed as the one-thread step
sums it (bit for bit); longer ones by BLAS products per half (within the contract's
tolerance of the one-thread step, the same whichever thread computes a half). The state
(the chain's arena) is the same, so a stream may change its thread count at any chunk.

An idle worker spins for ``SPIN_SECONDS``, then blocks on a ``threading.Event`` (the caller
wakes it: it stores the chunk then reads the worker's state, the worker stores its state
then reads the chunk again, both sequentially consistent, so no wake-up is lost). The
caller waits for the worker only while the worker computes a part it claimed: after
``TIMEOUT_SECONDS`` it gives up with a RuntimeError, as it does when the worker failed.
``close()`` (or dropping the runner: ``weakref.finalize``) stops the thread.

Shape: ``(B, C_in, m)`` in, ``(B, C_out, m)`` out.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Callable, NoReturn

import numpy as np

from .blocks import ResidualChainStep
from .fused import ChainHistories
from .history import History

SPIN_SECONDS = 1e-3  # an idle worker spins this long, then sleeps until the next chunk
YIELD_SECONDS = 20e-6  # a thread waiting longer than this at a barrier yields its core
TIMEOUT_SECONDS = 5.0  # a thread waiting longer than this for the other gives up
JOIN_SECONDS = 2.0  # close() waits this long for the worker to end
PARTS = 2  # the caller and one worker


@lru_cache(maxsize=1)
def ticks_per_second() -> float:
    """The rate of the time-stamp counter the compiled waits read (measured once)."""
    from ._jit.chain_parts import now

    now()  # compiled before timing
    t0, k0 = time.perf_counter(), now()
    time.sleep(0.005)
    t1, k1 = time.perf_counter(), now()
    return max((k1 - k0) / (t1 - t0), 1e6)


_forks = [0]  # forks of this process so far (a child counts one more than its parent)


def _forked() -> None:
    _forks[0] += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


class _Control:
    """What the worker thread and the runner share (no reference to the runner, so that
    dropping it runs its finaliser)."""

    def __init__(self) -> None:
        from ._jit import chain_parts

        self.ctl = chain_parts.control()
        rate = ticks_per_second()
        self.ctl[chain_parts.SPIN] = int(SPIN_SECONDS * rate)
        self.ctl[chain_parts.TIMEOUT] = int(TIMEOUT_SECONDS * rate)
        self.ctl[chain_parts.YIELD] = int(YIELD_SECONDS * rate)
        self.wake = threading.Event()
        self.args: tuple[Any, ...] | None = None  # (binding, arrays of serve)
        self.closed = False
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        self.forks = _forks[0]  # a forked child has no worker thread: it starts its own


def _work(control: _Control) -> None:
    """The worker thread: part 1 of every chunk, in ``serve`` while chunks come."""
    from ._jit import chain_parts

    try:
        while not control.closed:
            args = control.args
            code = 0 if args is None else chain_parts.serve(args[0], control.ctl, *args[1:])
            if code == 1:  # new arrays (or closing)
                continue
            if code == -1:  # the caller failed (ctl[FAILED])
                return
            control.wake.wait()
            control.wake.clear()
    except BaseException as error:  # handed to the caller
        control.error = error
        control.ctl[chain_parts.FAILED] = 1


def _shutdown(control: _Control) -> None:
    """Stop the worker thread (``close`` and the finaliser)."""
    from ._jit import chain_parts

    control.closed = True
    control.ctl[chain_parts.BINDING] = -1  # a spinning worker returns
    control.wake.set()
    thread = control.thread
    if thread is not None and thread is not threading.current_thread():
        thread.join(JOIN_SECONDS)
    control.args = None  # the arrays


def _unbound(*args: Any) -> int:
    raise AssertionError("bound on the first call")


class ChainThreads:
    """A ``ResidualChainStep`` run by the calling thread and one worker thread (started on
    the first call). ``runner(step, x, histories)`` as ``step(x, histories)``."""

    def __init__(self) -> None:
        self._control = _Control()
        self._finalizer = weakref.finalize(self, _shutdown, self._control)
        self._bound: tuple[Any, ...] = (None, None, 0, 0)  # step, arena, batch, samples
        self._arrays: tuple[Any, ...] = ()  # lead's arrays: ctl, weights, ..., scratch
        self._lead: Callable[..., int] = _unbound
        self._bindings = 0

    def __repr__(self) -> str:
        return f"ChainThreads(parts={PARTS}, closed={self.closed})"

    def __reduce__(self) -> tuple[Any, ...]:
        """A copy (or a pickle) is a fresh runner: the worker thread is not state."""
        return (ChainThreads, ())

    @property
    def closed(self) -> bool:
        """Whether ``close`` ran (or the worker failed)."""
        return self._control.closed

    @property
    def alive(self) -> bool:
        """Whether the worker thread runs."""
        thread = self._control.thread
        return thread is not None and thread.is_alive()

    def close(self) -> None:
        """Stop the worker thread; later calls raise."""
        self._finalizer()

    def _bind(self, step: ResidualChainStep, histories: ChainHistories, batch: int,
              m: int) -> None:
        """The worker's arrays for ``step`` on ``histories``' arena, chunks of up to
        ``batch`` rows of ``m`` samples."""
        from ._jit import chain, chain_parts

        if (step.blocks[:, chain.DELAY] >= 0).any():  # (its phases read no delay history)
            raise ValueError("the two-thread step runs chains whose residuals wait within "
                             "their first conv's history; this one keeps delay lines "
                             f"(blocks {np.flatnonzero(step.blocks[:, chain.DELAY] >= 0)})")
        arena = histories.arena
        weights, offsets = step.parts(PARTS)
        scratch = np.empty(chain_parts.scratch_size(step.convs, batch, m), step.dtype)
        self._arrays = (self._control.ctl, weights, offsets, step.convs, step.blocks,
                        arena.buffer, arena.table, scratch)
        self._lead = chain_parts.lead
        self._bindings += 1
        control = self._control
        control.args = (self._bindings, *self._arrays[1:])
        control.ctl[chain_parts.BINDING] = self._bindings
        self._bound = (step, arena, batch, m)
        if control.thread is None:
            control.thread = threading.Thread(target=_work, args=(control,), daemon=True,
                                              name="wavedil-chain-worker")
            control.thread.start()

    def __call__(self, step: ResidualChainStep, x: np.ndarray,
                 histories: Mapping[str, History], finite_only: bool = False
                 ) -> np.ndarray | None:
        """``step(x, histories, finite_only)`` on two threads: the chunk ``x`` (``(B, C_in,
        m)``) through every block; None (and nothing touched) while a history is not full,
        or, with ``finite_only``, if ``x`` is not all finite."""
        control = self._control
        if control.error is not None or control.closed or control.forks != _forks[0]:
            self._check()
            control = self._control
        if not isinstance(histories, ChainHistories):
            raise TypeError(f"expected the chain's ChainHistories, got {type(histories)}")
        batch, _, m = x.shape
        bound = self._bound
        if bound[0] is not step or bound[1] is not histories.arena or batch > bound[2] \
                or m > bound[3]:
            self._bind(step, histories, max(batch, bound[2] if bound[0] is step else 0),
                       max(m, 16))
        y = np.empty((batch, step.out_channels, m), x.dtype)
        code = self._lead(x, y, False, finite_only, *self._arrays)
        if code == 2:  # the worker sleeps: wake it
            control.wake.set()
            code = self._lead(x, y, True, finite_only, *self._arrays)
        if code == 1:
            return y
        if code == 0:
            return None
        self._fail()

    def _check(self) -> None:
        """Raise if closed or failed; in a forked child, a worker of our own."""
        control = self._control
        if control.closed:
            raise ValueError("this stream's worker thread was stopped (close()): make a new "
                             "stream")
        if control.error is not None:
            self._fail()
        self._control = control = _Control()  # forked: the parent's worker is not here
        self._finalizer = weakref.finalize(self, _shutdown, control)
        self._bound = (None, None, 0, 0)

    def _fail(self) -> NoReturn:
        """Stop the worker and raise: a wait gave up, or the worker failed."""
        from ._jit import chain_parts

        error = self._control.error
        self._control.ctl[chain_parts.FAILED] = 1
        self.close()
        raise RuntimeError("the chain step's two threads lost each other (a wait outlasted "
                           f"{TIMEOUT_SECONDS:g} s, or the worker failed: {error!r}); the "
                           "stream's state may be inconsistent: make a new stream") from error
