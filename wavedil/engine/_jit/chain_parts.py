"""The compiled chain step (``wavedil.engine._jit.chain``) split over threads by output
channels: part ``p`` of ``n`` computes outputs ``[C p // n, C (p + 1) // n)`` of every
conv (and the ReLUs, residual sums and projections of those channels), and the parts meet
at a barrier after each conv, whose successor reads all its channels: two barriers per
residual block, one more for a 1x1 head. Each output is summed exactly as in ``chain``
(``product`` there, the same ``_row`` / ``_rows4`` groups of rows), so the result is that
of ``residual_chain`` bit for bit, whatever the number of parts.

Part ``p``'s weights are its columns of each conv, packed (rows ``k C_in + c`` of its
``C_p`` values, then its bias) from ``offsets[p, j]`` in ``weights``: a part streams only
its share of the weights. The caller (part 0) first reserves every history and writes the
chunk into the first (``prepare``); every part then runs ``run_part``; the caller copies the
output out of ``scratch`` (``finish``).

``ctl`` (int64, one cache line per field that a thread spins on) holds the chunk's
parameters and each part's barrier count (``ARRIVED + 8 p``, counted across chunks); a
barrier gives up (returns False) when ``ctl[FAILED]`` is set or after ``ctl[TIMEOUT]``
ticks of ``atomics.ticks``; after ``ctl[YIELD]`` ticks it yields the CPU at each look (on a
busy machine the other thread may wait for a core).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .atomics import exchange, load, load_seq, pause, store, ticks, yield_cpu
from .chain import (
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
    SIZE,
    START,
    TAPS,
    _row,
    _rows4,
    reserve,
)

# ``ctl`` fields: the chunk (batch, samples), the timeouts in ticks (give up; the idle
# worker's spin; yield the CPU in a barrier), the failure flag; the caller's generation and
# the binding of the worker's arrays; the worker's state and last generation done; then
# each part's barrier count, on a cache line of its own
BATCH, SAMPLES, TIMEOUT, SPIN, FAILED, YIELD = range(6)
GENERATION, BINDING = 8, 9
STATE, DONE = 16, 17
ARRIVED = 24  # + 8 * part
ASLEEP, AWAKE = 0, 1


def control(parts: int) -> np.ndarray:
    """A fresh ``ctl`` for ``parts`` parts."""
    return np.zeros(ARRIVED + 8 * parts, np.int64)


def scratch_size(convs: np.ndarray, batch: int, m: int, parts: int) -> int:
    """Elements of ``scratch`` for chunks of up to ``m`` samples of ``batch`` rows."""
    width = int(convs[:, C_IN].max(initial=1)), int(convs[:, C_OUT].max(initial=1))
    return 4 * batch * m * max(width) + 4 * parts * max(width)


@njit(cache=True, nogil=True)
def now():
    """``atomics.ticks()`` (for Python)."""
    return ticks()


@njit(cache=True, nogil=True)
def split(channels, part, parts):
    """Part ``part``'s channels ``[first, stop)`` of ``channels``."""
    return channels * part // parts, channels * (part + 1) // parts


@njit(cache=True, nogil=True)
def barrier(ctl, part, parts, count):
    """Arrive (count ``count``) and wait for every other part to arrive; False if
    ``ctl[FAILED]`` is set or the wait outlasts ``ctl[TIMEOUT]`` ticks."""
    store(ctl, ARRIVED + 8 * part, count)
    for q in range(parts):
        if q == part or load(ctl, ARRIVED + 8 * q) >= count:
            continue
        start = ticks()
        while load(ctl, ARRIVED + 8 * q) < count:
            waited = ticks() - start
            if load(ctl, FAILED) != 0 or waited > ctl[TIMEOUT]:
                return False
            if waited > ctl[YIELD]:  # the other thread is not running: let it run
                yield_cpu()
            else:
                pause()
    return True


@njit(cache=True, nogil=True)
def product_part(src, a, row_step, tap_step, taps, c_in, weights, w0, n, dst, d0, d_step,
                 m, tmp):
    """``chain.product`` for ``n`` outputs whose weights (rows of ``n``, then the bias)
    start at ``w0``: row ``t`` goes to ``dst[d0 + t d_step :][:n]``. Four rows at a time
    through ``tmp`` (``4 n`` elements), as ``product`` groups them."""
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
        y = dst[d0 + t * d_step : d0 + t * d_step + n]
        for o in range(n):
            y[o] = bias[o]
        _row(src, a + t * row_step, tap_step, taps, c_in, weights, w0, n, y)
        t += 1


@njit(cache=True, nogil=True)
def prepare(x, convs, blocks, buf, table):
    """The caller's part before the threads run: False (nothing touched) while a history is
    not full; else every history reserved for the chunk ``x`` ``(B, C_in, m)``, which is
    written into the first."""
    batch, c0, m = x.shape
    for j in range(table.shape[0]):
        if table[j, END] - table[j, START] != table[j, SIZE]:
            return False
    j = blocks[0, CONV1]
    slot = reserve(buf, table, j, batch, c0, m)
    for b in range(batch):
        base = table[j, OFFSET] + (b * table[j, CAPACITY] + slot) * c0
        for t in range(m):
            for c in range(c0):
                buf[base + t * c0 + c] = x[b, c, t]
    last = blocks.shape[0] - 1
    for i in range(last + 1):
        j2 = blocks[i, CONV2]
        reserve(buf, table, j2, batch, convs[blocks[i, CONV1], C_OUT], m)
        if i < last:
            reserve(buf, table, blocks[i + 1, CONV1], batch, convs[j2, C_OUT], m)
    return True


@njit(cache=True, nogil=True)
def output_at(convs, blocks, batch, m):
    """Where ``run_part`` leaves the output in ``scratch``: ``(B, m, C_out)`` from there."""
    width = 0
    for j in range(convs.shape[0]):
        width = max(width, convs[j, C_IN], convs[j, C_OUT])
    return (3 if blocks[blocks.shape[0] - 1, HEAD] >= 0 else 2) * batch * m * width


@njit(cache=True, nogil=True)
def run_part(part, parts, ctl, weights, offsets, convs, blocks, buf, table, scratch):
    """Part ``part`` of the chunk (``ctl[BATCH]`` rows of ``ctl[SAMPLES]`` samples) that
    ``prepare`` set up, as the module docstring says; False if a barrier gave up."""
    batch, m = ctl[BATCH], ctl[SAMPLES]
    zero = buf.dtype.type(0)
    width = 0
    for j in range(convs.shape[0]):
        width = max(width, convs[j, C_IN], convs[j, C_OUT])
    s_out, s_res, s_last, s_y = 0, batch * m * width, 2 * batch * m * width, \
        3 * batch * m * width
    tmp = scratch[4 * batch * m * width + 4 * part * width :][: 4 * width]
    count = ctl[ARRIVED + 8 * part]
    last = blocks.shape[0] - 1
    for i in range(last + 1):
        j1, j2, projection, lag = blocks[i, CONV1], blocks[i, CONV2], blocks[i, PROJECTION], \
            blocks[i, LAG]
        c_in, c_mid, c_out = convs[j1, C_IN], convs[j1, C_OUT], convs[j2, C_OUT]
        slot1, slot2 = table[j1, END] - m, table[j2, END] - m
        cap1, cap2 = table[j1, CAPACITY], table[j2, CAPACITY]
        span1 = (convs[j1, TAPS] - 1) * convs[j1, DILATION]
        span2 = (convs[j2, TAPS] - 1) * convs[j2, DILATION]
        p0, p1 = split(c_mid, part, parts)
        for b in range(batch):  # conv1 and its ReLU, this part's channels
            u = table[j1, OFFSET] + b * cap1 * c_in
            h = table[j2, OFFSET] + (b * cap2 + slot2) * c_mid
            product_part(buf, u + (slot1 - span1) * c_in, c_in, convs[j1, DILATION] * c_in,
                         convs[j1, TAPS], c_in, weights, offsets[part, j1], p1 - p0, buf,
                         h + p0, c_mid, m, tmp)
            for t in range(m):
                hs = buf[h + t * c_mid + p0 : h + t * c_mid + p1]
                for o in range(p1 - p0):
                    hs[o] = max(hs[o], zero)
        count += 1
        if not barrier(ctl, part, parts, count):
            return False
        q0, q1 = split(c_out, part, parts)
        for b in range(batch):  # conv2, residual, ReLUs, this part's channels
            u = table[j1, OFFSET] + b * cap1 * c_in
            h = table[j2, OFFSET] + (b * cap2 + slot2) * c_mid
            out = s_out + b * m * c_out
            product_part(buf, h - span2 * c_mid, c_mid, convs[j2, DILATION] * c_mid,
                         convs[j2, TAPS], c_mid, weights, offsets[part, j2], q1 - q0,
                         scratch, out + q0, c_out, m, tmp)
            if projection >= 0:
                r = s_res + b * m * c_out
                product_part(buf, u + (slot1 - lag) * c_in, c_in, 0, 1, c_in, weights,
                             offsets[part, projection], q1 - q0, scratch, r + q0, c_out, m,
                             tmp)
                rs = scratch[r : r + m * c_out]
            else:
                rs = buf[u + (slot1 - lag) * c_in : u + (slot1 - lag + m) * c_in]
            if i < last:
                jn = blocks[i + 1, CONV1]
                d = table[jn, OFFSET] + (b * table[jn, CAPACITY] + table[jn, END] - m) * c_out
                dst = buf[d : d + m * c_out]
            else:
                dst = scratch[s_last + b * m * c_out : s_last + (b + 1) * m * c_out]
            ys = scratch[out : out + m * c_out]
            for t in range(m):
                for o in range(t * c_out + q0, t * c_out + q1):
                    dst[o] = max(max(ys[o], zero) + rs[o], zero)
        count += 1
        if not barrier(ctl, part, parts, count):
            return False
    head = blocks[last, HEAD]
    if head >= 0:
        c_last, c_y = convs[head, C_IN], convs[head, C_OUT]
        r0, r1 = split(c_y, part, parts)
        for b in range(batch):
            product_part(scratch, s_last + b * m * c_last, c_last, 0, 1, c_last, weights,
                         offsets[part, head], r1 - r0, scratch, s_y + b * m * c_y + r0, c_y,
                         m, tmp)
        count += 1
        if not barrier(ctl, part, parts, count):
            return False
    return True


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
def lead(x, y, resume, ctl, weights, offsets, convs, blocks, buf, table, scratch):
    """The caller's call per chunk, part 0 of ``ctl.shape`` parts: 0 (nothing touched)
    while a history is not full; 2 when the worker sleeps (the chunk is published: wake it,
    then call again with ``resume``); -1 if a barrier gave up; 1 with the output in ``y``."""
    parts = (ctl.shape[0] - ARRIVED) // 8
    if not resume:
        if not prepare(x, convs, blocks, buf, table):
            return 0
        ctl[BATCH], ctl[SAMPLES] = x.shape[0], x.shape[2]
        exchange(ctl, GENERATION, ctl[GENERATION] + 1)  # then read the worker's state
        if load_seq(ctl, STATE) == ASLEEP:
            return 2
    if not run_part(0, parts, ctl, weights, offsets, convs, blocks, buf, table, scratch):
        return -1
    finish(y, convs, blocks, scratch)
    return 1


@njit(cache=True, nogil=True)
def serve(part, binding, ctl, weights, offsets, convs, blocks, buf, table, scratch):
    """A worker's loop: runs part ``part`` of each new generation while ``ctl[BINDING]`` is
    ``binding`` (these arrays). Returns 0 when idle for ``ctl[SPIN]`` ticks (state
    ``ASLEEP``: the caller wakes it), 1 when the binding changed (call again with the new
    arrays, or stop), -1 if a barrier gave up or ``ctl[FAILED]`` is set."""
    parts = (ctl.shape[0] - ARRIVED) // 8
    exchange(ctl, STATE, AWAKE)
    done = ctl[DONE]
    idle = ticks()
    while True:
        generation = load(ctl, GENERATION)
        if generation != done:
            if load(ctl, BINDING) != binding:
                return 1
            if not run_part(part, parts, ctl, weights, offsets, convs, blocks, buf, table,
                            scratch):
                return -1
            done = generation
            store(ctl, DONE, done)
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
