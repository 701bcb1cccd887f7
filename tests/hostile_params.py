"""Hostile parameters for the public entry points: what each parameter may be (its domain),
the malformed values tried, and the limits a call runs under.

Import as ``from hostile_params import ...`` (pytest puts ``tests/`` on ``sys.path``).

A domain says which values a correct reading accepts: ``Int(low, high)`` (Python or numpy
integers, never bools, ``2.0`` or ``"3"``), ``Flag()`` (True / False only), ``Real(low)``
(finite numbers, never bools or strings), ``Choice(*names)``, ``Kind(type)``, ``Either``
of several, each optionally ``None``. A value outside it must be refused with a
ValueError/TypeError naming the parameter; a value inside it is accepted (a large one,
``Int`` or ``Real`` above ``LARGE``, may instead be refused by a cost bound, naming the
parameter). A numpy scalar accepted gives the result of its Python twin.

``limits()`` runs one call under a memory limit (``RLIMIT_AS``: the address space in use
plus ``MEMORY``) and a time limit (``SECONDS``; ``SIGALRM`` ends a call that runs past
``3 * SECONDS``).
"""

from __future__ import annotations

import math
import numbers
import resource
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SECONDS = 20.0  # generous: the machine running the suite may be shared
MEMORY = 1 << 30  # bytes beyond the address space in use when a call starts
BUDGET = 256 << 20  # the package's memory budget while the suite runs
LARGE = 8

# the malformed values tried on every parameter (hypothesis draws more)
HOSTILE: list[Any] = [True, False, 2.0, 2.5, -1, 0, 1, 3, 2**40, 10**12, 2**70, float("nan"),
                      float("inf"), -float("inf"), "3", "no", "", None, [], [2], (1, 2), {},
                      np.int64(3), np.int32(2), np.float64(2.0), np.bool_(True), 1 + 0j,
                      object()]


def _number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


@dataclass(frozen=True)
class Int:
    low: int = 1
    high: int | None = None
    none: bool = False
    even: bool = False

    def admits(self, value: object) -> bool:
        if value is None:
            return self.none
        return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)) \
            and self.low <= value and (self.high is None or value <= self.high) \
            and not (self.even and value % 2)


@dataclass(frozen=True)
class Real:
    low: float = 0.0
    strict: bool = True  # value > low (else >= low)
    none: bool = False

    def admits(self, value: object) -> bool:
        if value is None:
            return self.none
        return _number(value) and math.isfinite(value) and (  # type: ignore[arg-type]
            value > self.low if self.strict else value >= self.low)  # type: ignore[operator]


@dataclass(frozen=True)
class Flag:
    def admits(self, value: object) -> bool:
        return isinstance(value, (bool, np.bool_))


@dataclass(frozen=True)
class Choice:
    names: tuple = ()
    none: bool = False

    def admits(self, value: object) -> bool:
        if value is None:
            return self.none
        return isinstance(value, str) and value in self.names


@dataclass(frozen=True)
class Kind:
    kind: type | tuple = object

    def admits(self, value: object) -> bool:
        return isinstance(value, self.kind)


@dataclass(frozen=True)
class Each:
    """A list or tuple of ``length`` values of one domain."""

    item: Any = None
    length: int = 1

    def admits(self, value: object) -> bool:
        return isinstance(value, (list, tuple)) and len(value) == self.length and all(
            self.item.admits(v) for v in value)


@dataclass(frozen=True)
class Either:
    parts: tuple = ()

    def admits(self, value: object) -> bool:
        return any(part.admits(value) for part in self.parts)


def large(value: object) -> bool:
    """A value a cost bound may refuse although it is in the domain."""
    return _number(value) and abs(value) > LARGE  # type: ignore[arg-type]


def python_twin(value: object) -> object:
    """A numpy scalar's Python value (the same object for anything else)."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass
class EntryPoint:
    """A public function or class: ``call(**params)`` runs it (a class: builds it and runs
    it on a short input) and returns something ``same`` can compare; ``valid`` are
    parameters it accepts; ``domains`` what each parameter tried may be."""

    call: Callable[..., Any]
    valid: dict[str, Any]
    domains: dict[str, Any] = field(default_factory=dict)


def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def _data_bytes() -> int:
    """The data segment in use (``VmData`` of ``/proc/self/status``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmData in /proc/self/status")


class Overtime(Exception):
    """A call ran past the time limit (raised by the alarm)."""


@contextmanager
def limits() -> Iterator[None]:
    """Run the body within ``MEMORY`` more address space and ``3 * SECONDS``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _vm_bytes() + MEMORY
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)

    def alarm(signum, frame):
        raise Overtime(f"over {3 * SECONDS} s")

    # the address space alone does not bound a process that reserved much more than it
    # uses (torch's CUDA build reserves tens of GB): the data segment (private writable
    # mappings, since Linux 4.7) is bounded too
    data_soft, data_hard = resource.getrlimit(resource.RLIMIT_DATA)
    data_cap = _data_bytes() + MEMORY
    if data_hard != resource.RLIM_INFINITY:
        data_cap = min(data_cap, data_hard)
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(int(3 * SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    resource.setrlimit(resource.RLIMIT_DATA, (data_cap, data_hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (data_soft, data_hard))
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def timed(call: Callable[[], Any]) -> tuple[Any, BaseException | None, float]:
    """``call()`` under ``limits``: (result, error, seconds)."""
    start = time.perf_counter()
    try:
        with limits():
            return call(), None, time.perf_counter() - start
    except BaseException as error:  # judged by the caller (MemoryError, Overtime: failures)
        if isinstance(error, KeyboardInterrupt):
            raise
        return None, error, time.perf_counter() - start


def same(a: Any, b: Any) -> bool:
    """Two results are equal: arrays bit for bit (NaN equal to NaN), else by ``repr``."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    return repr(a) == repr(b)
