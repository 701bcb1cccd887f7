"""The non-finite input policy: what every entry point does with a NaN or infinite sample.

``"refuse"`` (the default): every public entry point that takes signal data (the offline
transforms, denoisers and models, every stream's ``process``) raises ValueError before
anything changes, quoting the first bad sample in C order of the array as given
(``x[1, 0, 4031] is nan``). A stream that refuses a chunk keeps its state.

``"confine"``: non-finite samples go through, and the damage stays in the outputs whose
receptive field holds them (``wavedil.receptive_field(op)``: ``(left, right)``; a bad
``x[p]`` reaches outputs ``p - right .. p + left``, plus its mirror or periodic images
within that reach of an end for the ``"symmetric"``, ``"reflect"`` and ``"periodic"``
boundaries). The convolutions, activations and shrinkage are local, so plain arithmetic
does that already; what reads a whole signal or window (the denoisers' noise level and
thresholds) reads its finite coefficients only, so a bad sample changes the other outputs
only by the statistic of one fewer coefficient. Saved stream states may then hold
non-finite values, and load.

The setting is one process-wide value: ``wavedil.nonfinite("confine")`` sets it and
returns a context manager that puts the previous one back, so
``with wavedil.nonfinite("confine"): ...`` scopes it. Why a setting rather than a keyword:
the check sits in the few places every entry point passes through (``as_signal``,
``Stream.accept``), no signature of the forty-odd entry points changes, and a model split
over threads or a Dask graph sees the same setting in its worker threads (a context
variable would not reach them). Set it from one thread. A task that may run in another
process (a Dask worker) captures the policy when it is built and runs under it:
``in_task(policy)`` sets it for the running thread only, over the process-wide value.

The check costs one ``np.isfinite(x).all()`` pass (a Python loop for a chunk of a few
samples; integer input is skipped); the index is looked for only on failure.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

import numpy as np
import numpy.typing as npt

from .checks import as_float_array

POLICIES = ("refuse", "confine")
_FEW = 16  # up to this many samples, a Python loop is quicker than np.isfinite
_STRIDED_DOT = 4096  # up to this many samples, np.vdot's copy of a strided array is cheaper
_policy = "refuse"
_task = threading.local()  # ``in_task``'s policy of the running thread, over ``_policy``
_tasks = 0  # ``in_task`` blocks open in any thread (none: no thread-local lookup needed)
_tasks_lock = threading.Lock()


class Setting:
    """The policy in force after a ``nonfinite`` call (``policy``) and the one before it
    (``previous``), which leaving a ``with`` block puts back."""

    def __init__(self, policy: str, previous: str) -> None:
        self.policy, self.previous = policy, previous

    def __enter__(self) -> Setting:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        global _policy
        _policy = self.previous

    def __repr__(self) -> str:
        return f"nonfinite({self.policy!r})"


def nonfinite(policy: str | None = None) -> Setting:
    """Set the process-wide non-finite input policy, ``"refuse"`` (the default) or
    ``"confine"`` (module docstring); ``nonfinite()`` changes nothing.

    Returns a ``Setting``: its ``policy`` is the policy now in force, and leaving a
    ``with`` block puts the previous one back.

    >>> import wavedil
    >>> with wavedil.nonfinite("confine"):
    ...     wavedil.nonfinite().policy
    'confine'
    >>> wavedil.nonfinite().policy
    'refuse'
    """
    global _policy
    if policy is not None and policy not in POLICIES:
        raise ValueError(f"the non-finite policy must be one of {POLICIES}, got {policy!r}")
    previous = _policy
    if policy is not None:
        _policy = policy
    return Setting(_policy, previous)


def policy() -> str:
    """The policy in force in this thread: ``"refuse"`` or ``"confine"``."""
    if not _tasks:
        return _policy
    return getattr(_task, "policy", None) or _policy


@contextmanager
def in_task(setting: str) -> Iterator[None]:
    """``setting`` in force in the running thread only, within the block (a task built
    under one policy and run by a worker thread or process: ``wavedil.dask``)."""
    if setting not in POLICIES:
        raise ValueError(f"the non-finite policy must be one of {POLICIES}, got {setting!r}")
    global _tasks
    before = getattr(_task, "policy", None)
    _task.policy = setting
    with _tasks_lock:
        _tasks += 1
    try:
        yield
    finally:
        _task.policy = before
        with _tasks_lock:
            _tasks -= 1


def check_signal(a: np.ndarray, name: str) -> None:
    """Refuse ``a`` (ValueError quoting its first bad sample) if it holds a NaN or an
    infinity and the policy is ``"refuse"``."""
    if policy() != "refuse":
        return
    kind, size = a.dtype.kind, a.size
    if kind == "f" and size <= _FEW:  # a short chunk: cheaper without ufuncs
        if (math.isfinite(a.item()) if size == 1
                else all(map(math.isfinite, a.ravel().tolist()))):
            return
    elif kind == "f" and a.dtype.itemsize in (4, 8) and (a.flags.c_contiguous or
                                                         size <= _STRIDED_DOT):
        if math.isfinite(np.vdot(a, a)) or np.isfinite(a).all():  # BLAS: one pass
            return  # a finite sum of squares: every sample is finite (squares beyond
            # the dtype's range take the exact test)
    elif kind not in "fc" or np.isfinite(a).all():
        return
    raise ValueError(nonfinite_message(a, name))


def as_signal(x: npt.ArrayLike, name: str = "x") -> np.ndarray:
    """``x`` as a float array (``wavedil.engine.checks.as_float_array``), checked by the
    policy (``check_signal``)."""
    a = as_float_array(x, name)
    check_signal(a, name)
    return a


def nonfinite_message(a: np.ndarray, name: str,
                      locate: Callable[[tuple[int, ...]], tuple[int, ...]] | None = None) -> str:
    """What is wrong with ``a`` and what to do: its first bad sample (C order), quoted at
    ``locate(index)`` when ``a`` is a piece of a larger array (a Dask block)."""
    bad = ~np.isfinite(a)
    first = int(np.flatnonzero(bad)[0])
    at = tuple(int(i) for i in np.unravel_index(first, a.shape))
    index = ", ".join(str(i) for i in (at if locate is None else locate(at)))
    where = f"{name}[{index}]" if a.ndim else name
    return (f"{where} is {a.flat[first]} ({np.count_nonzero(bad)} non-finite "
            f"sample(s) of {a.size}): wavedil refuses NaN and infinite input by default; "
            f"clean it first (np.nan_to_num, or mask and interpolate), or let it through with "
            f"the damage confined to the outputs whose receptive field holds it: "
            f"`with wavedil.nonfinite(\"confine\"): ...`")
