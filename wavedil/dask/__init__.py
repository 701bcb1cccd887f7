"""Scale-out on Dask (the ``wavedil[dask]`` extra): long signals in chunks, folders of files.

- ``apply``: ``apply(op, x)``, any wavedil operator over a dask array chunked in time,
  equal to the in-memory call (halos from the receptive field);
- ``plans``: how each operator kind runs on one block (context, boundary, warm-up);
- ``offline``: the offline ``denoise``, exact global statistics by a Dask reduction, then
  the chunks;
- ``statistics``: the reduction, exact medians and SURE minima from histograms of bit
  patterns;
- ``files``: ``process_files(paths, op, out_dir, client=None)``, one task per file, atomic
  outputs, a per-file table;
- ``workers``: ``tune_workers(client)``, worker processes set up for long arrays (one BLAS
  thread, glibc's malloc reusing large blocks; ``tuning`` makes the settings in a process,
  ``plugin`` in every worker that joins later).

Works with Dask's local threaded scheduler and with ``dask.distributed`` (a ``LocalCluster``
or any scheduler address).
"""

from .apply import apply, fit_chunks
from .files import FileResult, FileTable, process_files
from .workers import tune_workers

__all__ = ["apply", "fit_chunks", "process_files", "tune_workers", "FileResult", "FileTable"]
