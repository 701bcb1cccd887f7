"""Large output arrays recycled from earlier calls, once nothing refers to them any more.

The first write to fresh memory costs page faults and the kernel's zeroing of every page.
glibc reuses freed blocks of up to 32 MB by itself, so small outputs come back warm, but
every larger array is a fresh mapping. ``empty`` hands out a kept array that no one
references any more (CPython's reference count tells), or a new one that it keeps for
later; at most ``MAX_BYTES`` are kept, the oldest unreferenced ones dropped first. Where
reference counts cannot be trusted (not CPython, or no GIL) ``ENABLED`` is False and every
call is a plain ``np.empty``.

Shape: ``empty(shape, dtype)`` is ``np.empty(shape, dtype)``, contents undefined.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

MIN_BYTES = 32 << 20  # below this the allocator recycles freed memory itself
MAX_BYTES = 256 << 20  # the most kept for reuse
SCRATCH_BLOCKS = 8  # per thread: the im2col blocks kept for reuse
_kept: list[np.ndarray] = []
_lock = threading.Lock()


def _counts_references() -> bool:
    """Whether this interpreter's reference counts tell a lone array from a shared one.

    True on CPython with the GIL; elsewhere (PyPy, free-threaded builds, or counts that
    skip references) nothing is recycled rather than risk handing out a live array.
    """
    gil = getattr(sys, "_is_gil_enabled", None)  # Python 3.13+; older CPython always has one
    if sys.implementation.name != "cpython" or (gil is not None and not gil()):
        return False
    kept = [np.empty(1)]
    alone = sys.getrefcount(kept[0])
    other = kept[0]
    return alone == 2 and sys.getrefcount(kept[0]) == 3 and other is kept[0]


ENABLED = _counts_references()


def _free(i: int) -> bool:
    """Nothing but ``_kept`` refers to ``_kept[i]``: its references are the list's and the
    argument of this very call (every array handed out is a view, holding its base)."""
    return sys.getrefcount(_kept[i]) == 2


def empty(shape: Iterable[int], dtype: npt.DTypeLike) -> np.ndarray:
    """``np.empty(shape, dtype)``, reusing a kept array of that shape when one is free."""
    shape, dtype = tuple(int(n) for n in shape), np.dtype(dtype)
    if not ENABLED or math.prod(shape) * dtype.itemsize < MIN_BYTES:
        return np.empty(shape, dtype)
    with _lock:
        for i in range(len(_kept)):
            if _kept[i].shape == shape and _kept[i].dtype == dtype and _free(i):
                return _kept[i].view()
        _kept.append(np.empty(shape, dtype))
        view = _kept[-1].view()
        _trim()
        return view


def _trim() -> None:
    """Drop the oldest free arrays while more than ``MAX_BYTES`` are kept."""
    i = 0
    while i < len(_kept) and sum(a.nbytes for a in _kept) > MAX_BYTES:
        if _free(i):
            del _kept[i]
        else:
            i += 1


def clear() -> None:
    """Forget every kept array (the memory returns to the system when unreferenced)."""
    with _lock:
        _kept.clear()


def kept_bytes() -> int:
    """The bytes of the arrays kept for reuse (in use or free)."""
    with _lock:
        return sum(a.nbytes for a in _kept)


_SCRATCH = threading.local()  # per thread: im2col blocks, reused by every layer and call


def kept_block(shape: tuple[int, ...], dtype: npt.DTypeLike, bias_row: bool) -> np.ndarray:
    """A block of ``shape`` kept between calls (a last row of ones when ``bias_row``).

    For the short-chunk paths, which keep their block from one chunk to the next: one
    block per shape and thread (layers of one shape share it; none writes the row of
    ones), at most ``SCRATCH_BLOCKS`` per thread. Only this thread may use it: a caller
    that keeps a block checks the thread (``threading.get_ident``).
    """
    blocks = getattr(_SCRATCH, "blocks", None)
    if blocks is None:
        blocks = _SCRATCH.blocks = {}
    key = (shape, np.dtype(dtype), bias_row)
    col = blocks.get(key)
    if col is None:
        if len(blocks) >= SCRATCH_BLOCKS:
            blocks.clear()
        col = blocks[key] = np.empty(shape, dtype)
        if bias_row:
            col[..., -1, :] = 1
    return col


def scratch(shape: tuple[int, ...], dtype: npt.DTypeLike) -> np.ndarray:
    """This thread's scratch array of ``shape``, valid until its next call.

    One buffer per dtype and thread, grown to the largest request, so every layer and
    block reuses the same (cached, already mapped) memory: blocks kept per shape made
    freed megabytes go back to the system and fault in again (a WaveNet's 20 dilations
    make 20 shapes).
    """
    size = math.prod(shape)  # (np.prod of a tuple costs microseconds: chunk-1 streams care)
    buffers = getattr(_SCRATCH, "flat", None)
    if buffers is None:
        buffers = _SCRATCH.flat = {}
    flat = buffers.get(np.dtype(dtype))
    if flat is None or flat.size < size:
        flat = buffers[np.dtype(dtype)] = np.empty(size, dtype)
    return flat[:size].reshape(shape)
