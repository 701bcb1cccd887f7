"""Shared benchmark tools: interleaved timing, Markdown tables and the machine report.

Every ``benchmarks/bench_<topic>.py`` imports from here (``from common import ...``; the
runner puts ``benchmarks/`` on ``sys.path``) and exposes ``run(smoke: bool) -> str``.

Measuring rules (DESIGN.md, "Measuring speed"): same input, same weights, same thread
count (``THREADS``), candidates interleaved A B A B ..., the median of the rounds, and the
ratio reported beside the machine's measured matmul peak and memory bandwidth.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from functools import lru_cache

THREADS = 2
SMOKE_THREADS = 1  # smoke runs only check that the benchmarks run: no thread contention
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "BLIS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
MIN_SAMPLE_SECONDS = 0.02
# Side-by-side samples last at least this long: on this shared 2-core machine the speed of
# plain Python moved by up to 1.75x within a minute (5.4 vs 9.5 ms for the same loop), in
# spells of seconds, so short samples of one side and long ones of the other drew different
# spells; samples of similar length let the per-round ratio cancel them.
MATCHED_SAMPLE_SECONDS = 0.5
# OpenBLAS worker threads spin for about 2^28 cycles (~0.1 s) after a call before they
# sleep, libgomp's (torch) more briefly: when numpy and torch alternate, the spinning threads
# of one steal the two cores from the other. Sleeping this long before each timed sample
# parks them, so each candidate is timed as if it ran alone.
SPIN_PAUSE = 0.15


_pinned = THREADS


def pin_threads(threads: int = THREADS) -> None:
    """Pin numpy's BLAS and torch to ``threads`` threads.

    The environment variables only take effect if set before numpy is first imported
    (``benchmarks/run.py`` calls this first thing); threadpoolctl, when installed, also
    limits an already loaded BLAS; torch is set directly.
    """
    global _pinned
    _pinned = threads
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(threads)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def pinned_threads() -> int:
    """The thread count numpy and torch were pinned to (``THREADS`` unless changed)."""
    return _pinned


def time_interleaved(candidates: dict[str, Callable[[], object]], repeats: int = 5, *,
                     min_time: float = MIN_SAMPLE_SECONDS, pause: float = 0.0,
                     clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median seconds per call of each candidate, timed in interleaved rounds.

    Each candidate is called once to warm up, then timed once more to choose how many
    calls one sample loops over (enough for ``min_time`` seconds, so that very fast calls
    are not lost in the clock's resolution); then ``repeats`` rounds run A B A B ..., each
    sample being ``(clock after - clock before) / calls``. Returns ``{name: median}``.
    """
    if not candidates:
        raise ValueError("time_interleaved needs at least one candidate, got none")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an integer >= 1, got {repeats!r}")
    calls = {name: _calls_per_sample(fn, min_time, clock) for name, fn in candidates.items()}
    samples = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            if pause:
                time.sleep(pause)
            samples[name].append(_timed(fn, calls[name], clock) / calls[name])
    return Timings(samples)


class Timings(dict):
    """``{name: median seconds per call}`` of ``time_interleaved``, with its rounds.

    ``ratio(a, b)`` is the median over rounds of ``a``'s time / ``b``'s time in the same
    round: the two samples of a round ran seconds apart, so a slow spell of a shared
    machine (it can halve every BLAS figure for a while) slows both and leaves their ratio.
    """

    def __init__(self, samples: dict[str, list[float]]):
        super().__init__({name: statistics.median(v) for name, v in samples.items()})
        self.samples = samples

    def ratio(self, a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(self.samples[a], self.samples[b]))


def _calls_per_sample(fn: Callable[[], object], min_time: float,
                      clock: Callable[[], float]) -> int:
    """Warm up, time one call, and return how many calls fill ``min_time`` seconds."""
    fn()  # warm-up: caches, lazy allocations, first-call dispatch
    once = _timed(fn, 1, clock)
    return 1 if once >= min_time else min(10**6, int(min_time / max(once, 1e-9)) + 1)


def _best_time(fn: Callable[[], object], repeats: int, pause: float = 0.0) -> float:
    """Best seconds per call over ``repeats`` samples of at least ``MIN_SAMPLE_SECONDS``,
    ``pause`` seconds apart."""
    calls = _calls_per_sample(fn, MIN_SAMPLE_SECONDS, time.perf_counter)
    best = float("inf")
    for i in range(repeats):
        if i and pause:
            time.sleep(pause)
        best = min(best, _timed(fn, calls, time.perf_counter) / calls)
    return best


def _timed(fn: Callable[[], object], calls: int, clock: Callable[[], float]) -> float:
    start = clock()
    for _ in range(calls):
        fn()
    return clock() - start


def md_table(header: list[str], rows: list[list]) -> str:
    """A GitHub Markdown table; floats get 4 significant digits, ``|`` is escaped."""
    width = len(header)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"row {i} has {len(row)} cells, expected {width} (the header's "
                             f"length): {row!r}")

    def cell(value) -> str:
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


PEAK_SAMPLES = 12  # the peak is a best-of: spread over ~4 s so that a slow spell of the
PEAK_PAUSE = 0.3  # shared machine (seconds long; one run measured 106 GFLOP/s, 200 usual)
# does not stand in for the machine


@lru_cache(maxsize=None)
def matmul_peak_gflops(n: int = 2048, repeats: int = PEAK_SAMPLES) -> float:
    """Measured float32 matmul rate in GFLOP/s: best of ``repeats`` ``(n, n) @ (n, n)``
    samples, ``PEAK_PAUSE`` s apart."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty_like(a)
    pause = PEAK_PAUSE if n >= 1024 else 0.0  # smoke runs: no pauses
    return 2.0 * n**3 / _best_time(lambda: np.matmul(a, b, out=out), repeats, pause) / 1e9


@lru_cache(maxsize=None)
def copy_bandwidth_gbs(megabytes: int = 256, repeats: int = 3) -> float:
    """Measured memory bandwidth in GB/s: best ``np.copyto`` of a large float64 array,
    counting the bytes read plus the bytes written."""
    import numpy as np

    src = np.ones(megabytes * 2**20 // 8)
    dst = np.empty_like(src)
    return 2 * src.nbytes / _best_time(lambda: np.copyto(dst, src), repeats) / 1e9


def machine_report(smoke: bool = False) -> str:
    """Markdown: CPU, cores, library versions, BLAS, threads, measured peak and bandwidth.

    ``smoke`` measures on small sizes (a rough figure in milliseconds).
    """
    import numpy as np
    import scipy

    rows = [["CPU", _cpu_model()],
            ["cores (os.cpu_count / usable)", f"{os.cpu_count()} / {_usable_cores()}"],
            ["Python", platform.python_version()],
            ["numpy", np.__version__], ["scipy", scipy.__version__]]
    for module in ("torch", "pytorch_tcn"):
        rows.append([module, _version(module)])
    rows.append(["numpy BLAS", _blas_summary()])
    rows.append(["threads", _thread_summary()])
    size, megabytes = (512, 16) if smoke else (2048, 256)
    rows.append([f"measured float32 matmul peak ({size}x{size}, best of {PEAK_SAMPLES} "
                 f"spread over seconds)",
                 f"{matmul_peak_gflops(size):.1f} GFLOP/s"])
    rows.append([f"measured memory bandwidth (copy of {megabytes} MB, read + write)",
                 f"{copy_bandwidth_gbs(megabytes):.1f} GB/s"])
    load = _load_average()
    if load:
        rows.append(["load average (1, 5, 15 min) at the start", load])
    return md_table(["item", "value"], rows)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"


def _blas_summary() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        pass
    else:
        pools = [f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads)"
                 for p in threadpool_info()]
        if pools:
            return "; ".join(pools) + " (threadpoolctl)"
    import numpy as np

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except (TypeError, KeyError):
        return "unknown (numpy.show_config gives no summary)"
    text = f"{blas.get('name')} {blas.get('version')}"
    config = blas.get("openblas configuration")
    if config:
        text += f" [{config.strip()}]"
    return text + " (numpy.show_config)"


def _thread_summary() -> str:
    env = ", ".join(f"{name}={os.environ[name]}" for name in THREAD_VARIABLES[:3]
                    if name in os.environ)
    try:
        import torch
    except ImportError:
        return env or "not set"
    return f"{env or 'no thread variables set'}; torch.get_num_threads()={torch.get_num_threads()}"


def _load_average() -> str:
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except (AttributeError, OSError):
        return ""


# -- shared by the bench_* modules ---------------------------------------------------------
def check_close(ours, reference, what: str, rtol: float = 1e-5):
    """Raise if the outputs differ by more than ``rtol`` of the reference's scale."""
    import numpy as np  # imported late: run.py pins the BLAS threads before numpy loads

    if ours.shape != reference.shape:
        raise RuntimeError(f"{what}: shapes differ, wavedil {ours.shape} vs {reference.shape}")
    scale = max(float(np.max(np.abs(reference))), np.finfo(reference.dtype).tiny)
    error = float(np.max(np.abs(ours.astype(np.float64) - reference)))
    if not error <= rtol * scale:  # also catches NaN
        raise RuntimeError(f"{what}: outputs differ, max error {error:.3g} > "
                           f"{rtol:g} x scale {scale:.3g}")


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g}"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.3g}"
