"""The compiled chain step (``wavedil.engine._jit.chain``) split over two threads by output
channels: part ``p`` of 2 computes outputs ``[C p // 2, C (p + 1) // 2)`` of every conv
(and the ReLUs, residual sums and projections of those channels).

- A chunk of one sample: each output is summed exactly as in ``chain`` (``product`` there,
  the same ``_row`` groups), so the result is that of ``residual_chain`` bit for bit.
- From ``BLAS_ROWS`` samples on (``blas_phase``): per conv and part, one BLAS product per
  tap (``chain.tap_products``) of the tap's rows, read in place from the time-major history
  (no im2col copy), times the part's weight columns (up to 128 samples small enough that
  OpenBLAS runs it on the calling thread), each added in place into the rows where the
  conv's output goes; then the bias, ReLUs and residual there. BLAS sums in its own order:
  the result agrees with ``residual_chain``'s within the contract's tolerance, and does
  not depend on which thread computed a part.

A chunk runs in phases (``phase``): per block its conv1, then its conv2 and residual, then
the head; a phase reads every channel of the one before, so both of its parts wait for both
parts of that one. The caller (``lead``) computes part 0 of every phase and part 1 of any
phase the worker (``work``) has not claimed by then: a worker that is not running (a busy
machine) leaves the caller a claim per phase, not a wait for a core.

Part ``p``'s weights are its columns of each conv, packed (rows ``k C_in + c`` of its
``C_p`` values, then its bias) from ``offsets[p, j]`` in ``weights``: a part streams only
its share of the weights (``offsets[2]``: each conv whole, for a one-sample chunk on one
thread). Each thread has its own region of ``scratch`` (``private``: its sums, and a
projection's product) past the shared one. The caller first reserves every history and
writes the chunk into the first (``prepare``), and copies the output out of ``scratch``
at the end (``finish``).

``ctl`` (int64, one cache line per field a thread spins on) holds the chunk's parameters,
the phases (numbered across chunks) the caller has done (``ARRIVED``), the last phase
whose part 1 is claimed (``TAKEN``) and finished (``FINISHED``). The caller waits only for
a part the worker claimed (and computes), giving up when ``ctl[FAILED]`` is set or after
``ctl[TIMEOUT]`` ticks of ``atomics.ticks``; the worker never waits holding a claim.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..history import cache_aligned
from .atomics import claim, exchange, load, load_seq, pause, store, ticks, yield_cpu
from .chain import (
    BLAS_ROWS,
    C_IN,
    C_OUT,
    CAPACITY,
    CONV1,
    CONV2,
    DILATION,
    END,
    HEAD,
    LAG,
    OFFSET,
    PROJECTION,
    TAPS,
    _row,
    _rows4,
    prefetch_appends,
    reserve,
    take_chunk,
    tap_products,
)

# ``ctl`` fields: the chunk (batch, samples, its first phase less one), the timeouts in
# ticks (give up; the idle worker's spin; yield the CPU while waiting), the failure flag;
# the caller's generation and the binding of the worker's arrays; the worker's state and
# last generation done; the phases: done by the caller, part 1 claimed, part 1 finished
BATCH, SAMPLES, BASE, TIMEOUT, SPIN, FAILED, YIELD = range(7)
GENERATION, BINDING = 8, 9
STATE, DONE = 16, 17
ARRIVED, TAKEN, FINISHED = 24, 32, 40
ASLEEP, AWAKE = 0, 1
PARTS = 2  # the caller and one worker


def control() -> np.ndarray:
    """A fresh ``ctl`` (zeros), starting on a cache line."""
    ctl = cache_aligned(FINISHED + 8, np.int64)
    ctl[:] = 0
    return ctl


def scratch_size(convs: np.ndarray, batch: int, m: int) -> int:
    """Elements of ``scratch`` for chunks of up to ``m`` samples of ``batch`` rows."""
    width = int(max(convs[:, C_IN].max(initial=1), convs[:, C_OUT].max(initial=1)))
    return 4 * batch * m * width + PARTS * (private_size(width, m) + LINE) + LINE


LINE = 16  # elements of scratch between two threads' private regions (a cache line or more)


@njit(cache=True, nogil=True)
def private_size(width, m):
    """Elements of a thread's private region of ``scratch``: four rows of sums
    (``product_part``), then a projection's product (``blas_phase``)."""
    size = 4 * width + m * width
    return size + (-size % LINE)


@njit(cache=True, nogil=True)
def private(scratch, convs, batch, m, part):
    """Thread ``part``'s private region of ``scratch``: its sums, its projection."""
    width = 0
    for j in range(convs.shape[0]):
        width = max(width, convs[j, C_IN], convs[j, C_OUT])
    size = private_size(width, m)
    first = 4 * batch * m * width + LINE + part * (size + LINE)
    first += -first % LINE
    region = scratch[first : first + size]
    return region[: 4 * width], region[4 * width : 4 * width + m * width]


@njit(cache=True, nogil=True)
def now():
    """``atomics.ticks()`` (for Python)."""
    return ticks()


@njit(cache=True, nogil=True)
def split(channels, part, parts):
    """Part ``part``'s channels ``[first, stop)`` of ``channels``."""
    return channels * part // parts, channels * (part + 1) // parts


@njit(cache=True, nogil=True)
def wait_for(ctl, field, value, limit):
    """Wait until ``ctl[field] >= value``; False if ``ctl[FAILED]`` is set or the wait
    outlasts ``limit`` ticks (after ``ctl[YIELD]`` ticks it yields the CPU at each look:
    the other thread may be waiting for a core)."""
    if load(ctl, field) >= value:
        return True
    start = ticks()
    while load(ctl, field) < value:
        waited = ticks() - start
        if load(ctl, FAILED) != 0 or waited > limit:
            return False
        if waited > ctl[YIELD]:
            yield_cpu()
        else:
            pause()
    return True


@njit(cache=True, nogil=True)
def product_part(src, a, row_step, tap_step, taps, c_in, weights, w0, n, dst, d0, d_step,
                 m, tmp):
    """``chain.product`` for ``n`` outputs whose weights (rows of ``n``, then the bias)
    start at ``w0``: row ``t`` goes to ``dst[d0 + t d_step :][:n]``. Four rows at a time,
    as ``product`` groups them, summed in ``tmp`` (``4 n`` elements, this thread's own) and
    then copied: ``dst``'s rows share cache lines with the other thread's outputs, and a
    sum that went there once per group of input channels would bounce them between the
    cores."""
    bias = weights[w0 + taps * c_in * n : w0 + (taps * c_in + 1) * n]
    t = 0
    while t + 4 <= m:
        ys = tmp[: 4 * n]
        for i in range(4):
            for o in range(n):
                ys[i * n + o] = bias[o]
        _rows4(src, a + t * row_step, row_step, tap_step, taps, c_in, weights, w0, n, ys)
        for i in range(4):
            d = dst[d0 + (t + i) * d_step : d0 + (t + i) * d_step + n]
            for o in range(n):
                d[o] = ys[i * n + o]
        t += 4
    while t < m:
        y = tmp[:n]
        for o in range(n):
            y[o] = bias[o]
        _row(src, a + t * row_step, tap_step, taps, c_in, weights, w0, n, y)
        d = dst[d0 + t * d_step : d0 + t * d_step + n]
        for o in range(n):
            d[o] = y[o]
        t += 1


@njit(cache=True, nogil=True)
def prepare(x, finite_only, convs, blocks, buf, table):
    """The caller's part before the threads run: False (nothing touched) while a history is
    not full or, with ``finite_only``, if ``x`` is not all finite; else every history
    reserved for the chunk ``x`` ``(B, C_in, m)``, which is written into the first."""
    batch, _, m = x.shape
    if not take_chunk(x, finite_only, blocks, buf, table):
        return False
    last = blocks.shape[0] - 1
    for i in range(last + 1):
        j2 = blocks[i, CONV2]
        reserve(buf, table, j2, batch, convs[blocks[i, CONV1], C_OUT], m)
        if i < last:
            reserve(buf, table, blocks[i + 1, CONV1], batch, convs[j2, C_OUT], m)
    return True


@njit(cache=True, nogil=True)
def block_at(k, m, convs, blocks, table):
    """Block ``k``'s convs, projection and lag, its widths (input, middle, output), and its
    two histories' slots of this chunk's ``m`` rows and capacities."""
    j1, j2 = blocks[k, CONV1], blocks[k, CONV2]
    return (j1, j2, blocks[k, PROJECTION], blocks[k, LAG], convs[j1, C_IN], convs[j1, C_OUT],
            convs[j2, C_OUT], table[j1, END] - m, table[j2, END] - m, table[j1, CAPACITY],
            table[j2, CAPACITY])


@njit(cache=True, nogil=True)
def block_output(k, b, m, c_out, blocks, buf, table, scratch, s_last):
    """Where block ``k``'s output rows of batch row ``b`` go: the next block's history, or
    for the last block ``scratch`` from ``s_last``."""
    if k < blocks.shape[0] - 1:
        jn = blocks[k + 1, CONV1]
        d = table[jn, OFFSET] + (b * table[jn, CAPACITY] + table[jn, END] - m) * c_out
        return buf[d : d + m * c_out]
    return scratch[s_last + b * m * c_out : s_last + (b + 1) * m * c_out]


@njit(cache=True, nogil=True)
def output_at(convs, blocks, batch, m):
    """Where ``run_part`` leaves the output in ``scratch``: ``(B, m, C_out)`` from there."""
    width = 0
    for j in range(convs.shape[0]):
        width = max(width, convs[j, C_IN], convs[j, C_OUT])
    return (3 if blocks[blocks.shape[0] - 1, HEAD] >= 0 else 2) * batch * m * width


@njit(cache=True, nogil=True)
def phases(blocks):
    """Phases of a chunk: each block's conv1 and conv2, then the head if there is one."""
    return 2 * blocks.shape[0] + (1 if blocks[blocks.shape[0] - 1, HEAD] >= 0 else 0)


@njit(cache=True, nogil=True)
def blas_phase(i, part, parts, batch, m, weights, offsets, convs, blocks, buf, table,
               scratch):
    """``phase`` for ``BLAS_ROWS`` samples and more: each conv of the phase is one BLAS
    product per tap of this part's weight columns, summed in place where its rows go
    (``chain.tap_products``), then its bias, ReLUs and residual added there."""
    zero = buf.dtype.type(0)
    width = 0
    for j in range(convs.shape[0]):
        width = max(width, convs[j, C_IN], convs[j, C_OUT])
    s_last, s_y = 2 * batch * m * width, 3 * batch * m * width
    res = private(scratch, convs, batch, m, part)[1]
    last = blocks.shape[0] - 1
    if i > 2 * last + 1:  # the head
        head = blocks[last, HEAD]
        c_last, c_y = convs[head, C_IN], convs[head, C_OUT]
        r0, r1 = split(c_y, part, parts)
        n, w0 = r1 - r0, offsets[part, head]
        bias = weights[w0 + c_last * n : w0 + (c_last + 1) * n]
        for b in range(batch):
            y = s_y + b * m * c_y + r0
            tap_products(scratch, s_last + b * m * c_last, c_last, 0, 1, c_last, weights, w0,
                         n, scratch, y, c_y, m)
            for t in range(m):
                d = scratch[y + t * c_y : y + t * c_y + n]
                for o in range(n):
                    d[o] += bias[o]
        return
    k = i // 2
    j1, j2, projection, lag, c_in, c_mid, c_out, slot1, slot2, cap1, cap2 = \
        block_at(k, m, convs, blocks, table)
    if i % 2 == 0:  # conv1 and its ReLU
        taps, span1 = convs[j1, TAPS], (convs[j1, TAPS] - 1) * convs[j1, DILATION]
        p0, p1 = split(c_mid, part, parts)
        n, w0 = p1 - p0, offsets[part, j1]
        bias = weights[w0 + taps * c_in * n : w0 + (taps * c_in + 1) * n]
        for b in range(batch):
            u = table[j1, OFFSET] + b * cap1 * c_in
            h = table[j2, OFFSET] + (b * cap2 + slot2) * c_mid
            tap_products(buf, u + (slot1 - span1) * c_in, c_in, convs[j1, DILATION] * c_in,
                         taps, c_in, weights, w0, n, buf, h + p0, c_mid, m)
            for t in range(m):
                hs = buf[h + t * c_mid + p0 : h + t * c_mid + p1]
                for o in range(n):
                    hs[o] = max(hs[o] + bias[o], zero)
        return
    taps, span2 = convs[j2, TAPS], (convs[j2, TAPS] - 1) * convs[j2, DILATION]
    q0, q1 = split(c_out, part, parts)
    n, w0 = q1 - q0, offsets[part, j2]
    bias = weights[w0 + taps * c_mid * n : w0 + (taps * c_mid + 1) * n]
    pw0 = offsets[part, projection] if projection >= 0 else 0
    pbias = weights[pw0 + c_in * n : pw0 + (c_in + 1) * n]
    for b in range(batch):
        u = table[j1, OFFSET] + b * cap1 * c_in
        h = table[j2, OFFSET] + (b * cap2 + slot2) * c_mid
        dst = block_output(k, b, m, c_out, blocks, buf, table, scratch, s_last)
        tap_products(buf, h - span2 * c_mid, c_mid, convs[j2, DILATION] * c_mid, taps, c_mid,
                     weights, w0, n, dst, q0, c_out, m)
        if projection >= 0:
            tap_products(buf, u + (slot1 - lag) * c_in, c_in, 0, 1, c_in, weights, pw0, n,
                         res, 0, n, m)
        r = u + (slot1 - lag) * c_in
        for t in range(m):
            d_t = dst[t * c_out + q0 : t * c_out + q1]
            if projection >= 0:
                r_t = res[t * n : (t + 1) * n]
                for o in range(n):
                    d_t[o] = max(max(d_t[o] + bias[o], zero) + (r_t[o] + pbias[o]), zero)
            else:
                x_t = buf[r + t * c_in + q0 : r + t * c_in + q1]
                for o in range(n):
                    d_t[o] = max(max(d_t[o] + bias[o], zero) + x_t[o], zero)


@njit(cache=True, nogil=True)
def phase(i, part, parts, batch, m, weights, offsets, convs, blocks, buf, table, scratch):
    """Part ``part`` of phase ``i`` of the chunk ``prepare`` set up (``batch`` rows of ``m``
    samples): block ``i // 2``'s conv1 and ReLU (even ``i``), or its conv2, residual and
    ReLUs (odd ``i``, the block's output into the next block's history, the last block's
    into ``scratch``), or the head (``i == 2 B``), this part's output channels only."""
    zero = buf.dtype.type(0)
    width = 0
    for j in range(convs.shape[0]):
        width = max(width, convs[j, C_IN], convs[j, C_OUT])
    s_out, s_res, s_last, s_y = 0, batch * m * width, 2 * batch * m * width, \
        3 * batch * m * width
    if m >= BLAS_ROWS:
        blas_phase(i, part, parts, batch, m, weights, offsets, convs, blocks, buf, table,
                   scratch)
        return
    tmp = private(scratch, convs, batch, m, part)[0]
    last = blocks.shape[0] - 1
    if i > 2 * last + 1:  # the head
        head = blocks[last, HEAD]
        c_last, c_y = convs[head, C_IN], convs[head, C_OUT]
        r0, r1 = split(c_y, part, parts)
        for b in range(batch):
            product_part(scratch, s_last + b * m * c_last, c_last, 0, 1, c_last, weights,
                         offsets[part, head], r1 - r0, scratch, s_y + b * m * c_y + r0, c_y,
                         m, tmp)
        return
    k = i // 2
    j1, j2, projection, lag, c_in, c_mid, c_out, slot1, slot2, cap1, cap2 = \
        block_at(k, m, convs, blocks, table)
    if i % 2 == 0:  # conv1 and its ReLU
        span1 = (convs[j1, TAPS] - 1) * convs[j1, DILATION]
        p0, p1 = split(c_mid, part, parts)
        for b in range(batch):
            u = table[j1, OFFSET] + b * cap1 * c_in
            h = table[j2, OFFSET] + (b * cap2 + slot2) * c_mid
            product_part(buf, u + (slot1 - span1) * c_in, c_in, convs[j1, DILATION] * c_in,
                         convs[j1, TAPS], c_in, weights, offsets[part, j1], p1 - p0, buf,
                         h + p0, c_mid, m, tmp)
            for t in range(m):
                hs = buf[h + t * c_mid + p0 : h + t * c_mid + p1]
                for o in range(p1 - p0):
                    hs[o] = max(hs[o], zero)
        return
    span2 = (convs[j2, TAPS] - 1) * convs[j2, DILATION]  # conv2, residual, ReLUs
    q0, q1 = split(c_out, part, parts)
    for b in range(batch):
        u = table[j1, OFFSET] + b * cap1 * c_in
        h = table[j2, OFFSET] + (b * cap2 + slot2) * c_mid
        out = s_out + b * m * c_out
        product_part(buf, h - span2 * c_mid, c_mid, convs[j2, DILATION] * c_mid,
                     convs[j2, TAPS], c_mid, weights, offsets[part, j2], q1 - q0,
                     scratch, out + q0, c_out, m, tmp)
        if projection >= 0:
            r = s_res + b * m * c_out
            product_part(buf, u + (slot1 - lag) * c_in, c_in, 0, 1, c_in, weights,
                         offsets[part, projection], q1 - q0, scratch, r + q0, c_out, m, tmp)
            rs = scratch[r : r + m * c_out]
        else:
            rs = buf[u + (slot1 - lag) * c_in : u + (slot1 - lag + m) * c_in]
        dst = block_output(k, b, m, c_out, blocks, buf, table, scratch, s_last)
        ys = scratch[out : out + m * c_out]
        for t in range(m):
            for o in range(t * c_out + q0, t * c_out + q1):
                dst[o] = max(max(ys[o], zero) + rs[o], zero)


@njit(cache=True, nogil=True)
def finish(y, convs, blocks, scratch):
    """Copy the output ``(B, m, C_out)`` that ``run_part`` left in ``scratch`` into ``y``
    ``(B, C_out, m)``."""
    batch, c_y, m = y.shape
    src = output_at(convs, blocks, batch, m)
    for b in range(batch):
        for t in range(m):
            for c in range(c_y):
                y[b, c, t] = scratch[src + (b * m + t) * c_y + c]


@njit(cache=True, nogil=True)
def lead(x, y, resume, finite_only, ctl, weights, offsets, convs, blocks, buf, table,
         scratch):
    """The caller's call per chunk: 0 (nothing touched) while a history is not full; 2
    when the worker sleeps (the chunk is published: wake it, then call again with
    ``resume``); -1 if a wait gave up; 1 with the output in ``y``.

    Phase ``k`` (numbered across chunks): the caller computes part 0, then claims part 1
    (``TAKEN`` from ``k - 1`` to ``k``) unless the worker did, and computes it too, or waits
    until the worker has (``FINISHED``): a worker that is not running costs a claim per
    phase, not a wait for a core. A worker that has not finished the last chunk (it is not
    running) is left none of this one: the caller claims every phase at once and computes
    each conv whole."""
    if not resume:
        if not prepare(x, finite_only, convs, blocks, buf, table):
            return 0
        ctl[BATCH], ctl[SAMPLES] = x.shape[0], x.shape[2]
        base = ctl[TAKEN]  # every phase so far is finished
        ctl[BASE] = base
        store(ctl, ARRIVED, base)
        exchange(ctl, GENERATION, ctl[GENERATION] + 1)  # then read the worker's state
        if load_seq(ctl, STATE) == ASLEEP:
            return 2
    batch, m, base = x.shape[0], x.shape[2], ctl[BASE]
    last = base + phases(blocks)
    if load(ctl, DONE) < ctl[GENERATION] - 1 and claim(ctl, TAKEN, base, last):
        # the worker has not finished the last chunk (it waits for a core): the whole
        # chunk here, every conv whole at one sample (row PARTS of offsets: the same sums),
        # else both parts (BLAS sums by its own order: the parts' results, whoever runs them)
        for i in range(phases(blocks)):
            if m < BLAS_ROWS:
                phase(i, 0, 1, batch, m, weights, offsets[PARTS:], convs, blocks, buf, table,
                      scratch)
            else:
                for part in range(PARTS):
                    phase(i, part, PARTS, batch, m, weights, offsets, convs, blocks, buf,
                          table, scratch)
        store(ctl, ARRIVED, last)
        store(ctl, FINISHED, last)
        finish(y, convs, blocks, scratch)
        return 1
    for i in range(phases(blocks)):
        k = base + 1 + i
        phase(i, 0, PARTS, batch, m, weights, offsets, convs, blocks, buf, table, scratch)
        store(ctl, ARRIVED, k)
        if load(ctl, TAKEN) < k and claim(ctl, TAKEN, k - 1, k):  # not started: do it here
            phase(i, 1, PARTS, batch, m, weights, offsets, convs, blocks, buf, table, scratch)
            store(ctl, FINISHED, k)
        elif not wait_for(ctl, FINISHED, k, ctl[TIMEOUT]):
            return -1
    finish(y, convs, blocks, scratch)
    return 1


@njit(cache=True, nogil=True)
def work(ctl, weights, offsets, convs, blocks, buf, table, scratch):
    """The worker's part of the chunk published last: for each phase, once the previous
    one is finished (both parts), claim part 1 and compute it, unless the caller has
    claimed it. A caller that does not come within ``ctl[SPIN]`` ticks is left the rest of
    the chunk (it claims what nobody did). False if ``ctl[FAILED]`` is set."""
    batch, m, base = ctl[BATCH], ctl[SAMPLES], ctl[BASE]
    for i in range(phases(blocks)):
        k = base + 1 + i
        if load(ctl, TAKEN) >= k:
            continue  # the caller took it
        if not (wait_for(ctl, ARRIVED, k - 1, ctl[SPIN])
                and wait_for(ctl, FINISHED, k - 1, ctl[SPIN])):
            break
        if claim(ctl, TAKEN, k - 1, k):
            phase(i, 1, PARTS, batch, m, weights, offsets, convs, blocks, buf, table, scratch)
            store(ctl, FINISHED, k)
    return load(ctl, FAILED) == 0


@njit(cache=True, nogil=True)
def serve(binding, ctl, weights, offsets, convs, blocks, buf, table, scratch):
    """A worker's loop: runs ``work`` for each new generation while ``ctl[BINDING]`` is
    ``binding`` (these arrays). After each, while the caller is away, it brings into the
    cache the rows the next chunk writes (``chain.prefetch_appends``: each is written once
    per pass through its history, so it would otherwise come from memory mid-chunk).
    Returns 0 when idle for ``ctl[SPIN]`` ticks (state ``ASLEEP``: the caller wakes it), 1
    when the binding changed (call again with the new arrays, or stop), -1 if a wait gave
    up or ``ctl[FAILED]`` is set."""
    exchange(ctl, STATE, AWAKE)
    done = ctl[DONE]
    idle = ticks()
    while True:
        generation = load(ctl, GENERATION)
        if generation != done:
            if load(ctl, BINDING) != binding:
                return 1
            if not work(ctl, weights, offsets, convs, blocks, buf, table, scratch):
                return -1
            done = generation
            store(ctl, DONE, done)
            prefetch_appends(buf, table, ctl[BATCH], ctl[SAMPLES])  # the next chunk's rows
            idle = ticks()
        elif load(ctl, BINDING) != binding:
            return 1
        elif load(ctl, FAILED) != 0:
            return -1
        elif ticks() - idle > ctl[SPIN]:
            exchange(ctl, STATE, ASLEEP)  # then read the generation again
            if load_seq(ctl, GENERATION) == done:
                return 0
            exchange(ctl, STATE, AWAKE)
        elif ticks() - idle > ctl[YIELD]:
            yield_cpu()
        else:
            pause()
