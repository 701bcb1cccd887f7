"""The settings ``tune_workers`` makes in one worker process (``wavedil.dask.workers``
says why): one BLAS thread, and glibc's malloc reusing freed blocks up to 32 MiB."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

MMAP_THRESHOLD = 32 << 20  # bytes: glibc's upper bound for its adaptive mmap threshold
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # what the adaptive rule sets beside it
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


def tune_process(caller_pid: int) -> dict[str, bool]:
    """The settings in this process, unless it is ``caller_pid`` (the caller's own)."""
    if os.getpid() == caller_pid:
        return {"blas": False, "malloc": False}
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
    return {"blas": True, "malloc": keep_large_blocks()}


def keep_large_blocks() -> bool:
    """glibc: reuse freed blocks up to ``MMAP_THRESHOLD`` (``mallopt``); True if set."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
