"""``tune_workers(client)``: Dask worker processes set up for long audio arrays.

Two settings per worker process, both made by ``process_files`` before its tasks run:

- numpy's BLAS gets one thread per Dask thread (``threadpoolctl``): Dask already runs the
  tasks side by side, one per worker thread.
- glibc's ``malloc`` keeps large freed blocks for reuse. Dask's nanny starts every worker
  with ``MALLOC_TRIM_THRESHOLD_=65536`` (``distributed.nanny.pre-spawn-environ``). Setting
  that variable also turns off glibc's adaptive mmap threshold, so every block over
  128 KiB is mapped fresh from the system and returned on free: each signal-sized
  temporary page-faults all its memory again, and a worker runs wavedil's offline
  operators at about half the speed of a plain process (benchmarks/RESULTS.md, Dask).
  ``tune_workers`` sets the thresholds to what the
  adaptive rule reaches by itself (mmap above 32 MiB, its upper bound; trim above
  64 MiB). Blocks under 32 MiB are then reused; a worker keeps at most about 64 MiB of
  freed memory at the top of its heap.

Elsewhere (not glibc, or the caller's own process in a cluster of threads) nothing changes.
"""

from __future__ import annotations

import os
from typing import Any

from .tuning import tune_process


def tune_workers(client: Any) -> dict[str, dict[str, bool]]:
    """Set up every worker process of ``client`` (a ``dask.distributed.Client``) as the
    module docstring says, and, through a worker plugin (``wavedil.dask.plugin``), every
    worker that joins later (one replaced after a crash, or added by scaling). Returns, per
    worker address, what was set now: ``{"blas": bool, "malloc": bool}`` (both False for
    workers that are threads of this process)."""
    if not callable(getattr(client, "run", None)):
        raise TypeError(f"client must be a dask.distributed.Client (something with .run), "
                        f"got {type(client).__name__} {client!r:.60}")
    register = getattr(client, "register_plugin", None) or \
        getattr(client, "register_worker_plugin", None)  # (distributed before 2023.9)
    if register is not None:
        from .plugin import TuneWorker

        register(TuneWorker(os.getpid()), name=TuneWorker.name)
    return client.run(tune_process, os.getpid())
