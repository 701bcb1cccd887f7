"""``apply``: a wavedil operator over a dask array chunked in time, equal to the whole call.

Each chunk ``[a, b)`` runs with a halo: ``left`` samples of context before it and ``right``
after it, from the operator's receptive field (``wavedil.dask.plans``), through
``dask.array.overlap.overlap(depth={time: (left, right)}, boundary="none")`` (asymmetric
for causal operators) and one ``map_blocks`` call, as ``dask.array.map_overlap`` with
``trim=False``: a graph linear in the number of chunks. At the ends of the signal there
is no halo and the operator's own boundary applies, exactly as in memory; operators whose
in-memory call wraps around or extends the whole signal (periodic boundaries, SWT ``mra``
and ``denoise``) get the signal padded first by ``dask.array.pad`` in that mode.

Chunks smaller than the halo: every chunk must hold at least ``max(left, right)`` samples
(the halo comes from the neighbours only, and a mirror boundary reads that far into the
signal), so a chunk that holds fewer is merged with the chunks after it (``fit_chunks``),
and the result is re-cut into the chunks of ``x``. Dask's own automatic re-chunking in
``map_overlap`` is never reached, and every block checks that it got the samples it
expects: a wrong block raises, it is never silently wrong. Leading axes become one chunk
(a model mixes channels).

Shape: any ``(..., T)`` dask array (time on ``axis``); the result is ``op(x)``'s:
``(..., T)``, or ``(k, ..., T)`` for operators that add a leading axis of coefficients
(``AtrousTransform``, ``mra``, ``modwt``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine.finite import in_task, nonfinite_message, policy
from ..engine.params import axis_index, integer
from .blocks import Blocks, minimum_block
from .plans import plan_for


def apply(op: Callable[..., Any], x: Any, halo: tuple[int, int] | None = None,
          axis: int = -1, **options: Any) -> Any:
    """``op`` over the time chunks of the dask array ``x``; equal to ``op(x)`` computed whole.

    ``op``: a wavedil operator (conv layer, model, ``AtrousTransform``, ``Resynthesis``,
    ``Denoiser``, a torch module) or one of the functions ``wavedil.denoise``,
    ``wavedil.mra``, ``wavedil.modwt`` with their ``options`` as keywords
    (``apply(wavedil.denoise, x, levels=6, threshold="sure")``). ``halo = (left, right)``
    overrides the context of an operator (default ``wavedil.halo(op)``).

    Returns a lazy dask array with the chunks of ``x`` along time (see the module docstring
    for chunks smaller than the halo). Equal to the in-memory result up to float rounding
    (the same arithmetic on the same samples; ``wavedil.dask.offline`` for ``denoise``).
    """
    import dask.array as da

    if not isinstance(x, da.Array):
        raise TypeError(f"x must be a dask array, got {type(x).__name__}")
    axis = axis_index(axis, x.shape)
    x = da.moveaxis(x, axis, -1)
    length = x.shape[-1]
    if np.isnan(length) or length == 0:
        raise ValueError(f"x needs a known, non-zero length on axis {axis}, got shape "
                         f"{x.shape}; call x.compute_chunk_sizes() first if it is unknown")
    plan = plan_for(op, int(length), halo, options)
    y = run_plan(plan, x, axis % x.ndim)
    out_axis = axis if y.ndim == x.ndim or axis < 0 else axis + 1
    return da.moveaxis(y, -1, out_axis)


def fit_chunks(chunks: tuple[int, ...], smallest: int) -> tuple[int, ...]:
    """Chunk sizes of at least ``smallest`` (one chunk if the total is less), merging each
    chunk that is too small with the ones after it (the last with the one before).

    >>> fit_chunks((100, 3, 4, 100, 2), 10)
    (100, 109)
    >>> fit_chunks((3, 4), 10)
    (7,)
    """
    smallest = integer(smallest, "smallest")
    if len(chunks) <= 1 or min(chunks) >= smallest:
        return tuple(chunks)
    out: list[int] = []
    run = 0
    for size in chunks:
        run += size
        if run >= smallest:
            out.append(run)
            run = 0
    if run:
        if out:
            out[-1] += run
        else:
            out.append(run)
    return tuple(out)


def run_plan(plan: Blocks, x: Any, axis: int = -1) -> Any:
    """The plan over ``x`` (time last): a lazy dask array with ``x``'s chunks in time.

    The non-finite policy in force now travels with the tasks (``wavedil.nonfinite``: a
    worker may be another process). Under ``"refuse"`` each block checks the samples it
    outputs, so a bad sample is refused by the block that holds it, quoted at its index in
    the caller's array (time back on ``axis``); the operator itself then runs under
    ``"confine"`` (its halo is its neighbours' to check).
    """
    setting = policy()

    lead = x.ndim - 1
    x = x.rechunk({i: -1 for i in range(lead)})
    original = x.chunks[-1]
    chunks = fit_chunks(original, minimum_block(plan))
    if chunks != original:
        x = x.rechunk({lead: chunks})
    sample = plan.whole(np.zeros(x.shape[:-1] + (1,), x.dtype))  # the output's layout
    if sample.shape[-1] != 1 or sample.ndim not in (x.ndim, x.ndim + 1):
        raise ValueError(f"apply needs an operator with one output per input sample, time "
                         f"last, and at most one more (leading) axis; {plan!r} maps "
                         f"{x.shape[:-1] + (1,)} to {sample.shape}")
    out_chunks = tuple((d,) for d in sample.shape[:-1]) + (x.chunks[-1],)
    new_axis = [0] if sample.ndim > x.ndim else []  # a leading axis of coefficients
    dtype = sample.dtype
    if len(chunks) == 1:  # one block: the in-memory call itself
        y = x.map_blocks(_whole, plan=plan, setting=setting, axis=axis, chunks=out_chunks,
                         new_axis=new_axis, dtype=dtype)
    else:
        windows = overlapped(plan, x)
        extra = plan.prepare(_windows(windows, plan, chunks), x)
        y = windows.map_blocks(_block, plan=plan, extra=extra, setting=setting, axis=axis,
                               chunks=out_chunks,
                               new_axis=new_axis, dtype=dtype, meta=np.empty((0,) * (
                                   x.ndim + len(new_axis)), dtype))
    if y.chunks[-1] != original:
        y = y.rechunk({y.ndim - 1: original})
    return y


def overlapped(plan: Blocks, x: Any) -> Any:
    """``x`` (time last, chunks of at least ``max(left, right)``) with every chunk extended
    by its halo: the first and last also by the padding of ``plan.extend``."""
    import dask.array as da

    from .blocks import PAD_MODES

    lead = x.ndim - 1
    if plan.extend is not None and (plan.left or plan.right):
        chunks = list(x.chunks[-1])
        widths = [(0, 0)] * lead + [(plan.left, plan.right)]
        x = da.pad(x, widths, mode=PAD_MODES[plan.extend])
        chunks[0] += plan.left  # the padding joins the first and last chunk
        chunks[-1] += plan.right
        x = x.rechunk({lead: tuple(chunks)})
    depth: dict[int, int | tuple[int, int]] = {i: 0 for i in range(lead)}
    depth[lead] = (plan.left, plan.right)
    return da.overlap.overlap(x, depth=depth, boundary={i: "none" for i in range(x.ndim)},
                              allow_rechunk=False)


def bounds(plan: Blocks, chunks: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """``(lo, hi, a, b)`` per chunk: the window each block holds, the samples it outputs."""
    length = sum(chunks)
    floor, ceil = (0, length) if plan.extend is None else (-plan.left, length + plan.right)
    out, a = [], 0
    for size in chunks:
        b = a + size
        out.append((max(a - plan.left, floor), min(b + plan.right, ceil), a, b))
        a = b
    return out


def _windows(windows: Any, plan: Blocks, chunks: tuple[int, ...]) -> list[tuple]:
    """``(delayed block, lo, hi, a, b)`` for every chunk."""
    blocks = windows.to_delayed().reshape(-1)
    return [(block,) + bound for block, bound in zip(blocks, bounds(plan, chunks))]


def check_own(x: np.ndarray, a: int, setting: str, axis: int) -> None:
    """Under ``"refuse"``, refuse the samples ``x`` (time last) that start at sample ``a``,
    quoting the first bad one at its index in the caller's array (time on ``axis``)."""
    if setting != "refuse" or x.dtype.kind not in "fc" or np.isfinite(x).all():
        return

    def locate(index: tuple[int, ...]) -> tuple[int, ...]:
        where = list(index[:-1])
        where.insert(axis if axis >= 0 else len(index) + axis, index[-1] + a)
        return tuple(where)

    raise ValueError(f"in the chunk of samples [{a}, {a + x.shape[-1]}): "
                     + nonfinite_message(x, "x", locate))


def _whole(x: np.ndarray, plan: Blocks, setting: str, axis: int) -> np.ndarray:
    """The one chunk: the in-memory call, under the policy of the graph."""
    check_own(x, 0, setting, axis)
    with in_task(setting):
        return plan.whole(x)


def _block(window: np.ndarray, plan: Blocks, extra: Any = None, setting: str = "refuse",
           axis: int = -1, block_info: dict | None = None) -> np.ndarray:
    """One chunk: checks the window it got and the samples it outputs, then ``plan.run``."""
    assert block_info is not None
    a, b = block_info[None]["array-location"][-1]
    length = block_info[None]["shape"][-1]
    floor, ceil = (0, length) if plan.extend is None else (-plan.left, length + plan.right)
    lo, hi = max(a - plan.left, floor), min(b + plan.right, ceil)
    if window.shape[-1] != hi - lo:
        raise RuntimeError(f"chunk [{a}, {b}) got a window of {window.shape[-1]} samples, "
                           f"expected {hi - lo} ({lo} to {hi}); the halo ({plan.left}, "
                           f"{plan.right}) did not reach it whole")
    check_own(window[..., a - lo : b - lo], a, setting, axis)
    with in_task("confine"):  # the halo: the neighbours' samples, checked by them
        y = plan.run(window, lo, hi, a, b, extra)
    if y.shape[-1] != b - a:
        raise RuntimeError(f"{plan!r} gave {y.shape[-1]} samples for chunk [{a}, {b})")
    return y
