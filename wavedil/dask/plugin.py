"""The worker plugin behind ``tune_workers``: Dask runs its ``setup`` on every worker of
the client, now and whenever a worker joins later (a replaced or added one).

Imported by ``tune_workers`` only, so ``import wavedil.dask`` does not import distributed.
"""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from .tuning import tune_process


class TuneWorker(WorkerPlugin):
    """``tune_process`` in each worker process (not in the caller's, ``caller_pid``)."""

    name = "wavedil-tune-workers"

    def __init__(self, caller_pid: int) -> None:
        self.caller_pid = caller_pid

    def setup(self, worker: Any) -> None:
        tune_process(self.caller_pid)
