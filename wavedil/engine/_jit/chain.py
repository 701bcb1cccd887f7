"""Compiled (numba) step of a whole chain of residual blocks for short chunks: one call per
chunk runs every conv, activation and residual sum, reading and writing the convs'
time-major histories in one arena (``wavedil.engine.history.TimeMajorArena``).

Short chunks spend their time between the products, not in them: a Python call per conv
costs more than its arithmetic. Here everything between the products is compiled, and the
products are:

- for a chunk of one sample, plain loops (``product``), vectorised over the output
  channels: one weight row is read per input value and added into every output, so the
  loop needs no reordering of sums (no fastmath) and LLVM vectorises it as it stands;
- for ``BLAS_ROWS`` samples and more, one BLAS call per tap (``blas_product``: the tap's
  rows read in place, each product added into the conv's output, ``blas.product_rows``),
  which beats the loops from two rows on.

Summation order of ``product`` (written out in the code, no fastmath, one rounding per
operation): each output starts from its bias ``y = b``; then, tap by tap (k ascending), the
tap's input channels c go in groups of four, each group summed as a pair of pairs and added
to the output, ``y = y + ((x_c w_c + x_c+1 w_c+1) + (x_c+2 w_c+2 + x_c+3 w_c+3))``, and the
channels left over (fewer than four) one by one, ``y = y + x_c w_c``, where ``x_c w_c``
stands for ``x[k, c] * w[k C_in + c, o]``. (The pairs shorten the chain of dependent
additions, which bounds a one-sample product's speed.) BLAS sums in its own order, so
chunk sizes agree within the contract's tolerance, not bit for bit.

Histories: conv ``j`` keeps its input in region ``j`` of the flat ``buf``, time-major
``(B, capacity_j, C_in_j)`` from ``table[j, OFFSET]``, its positions ``(start, end)`` in
``table[j, START:]`` (``History``'s policy, ``reserve``). A conv with ``taps`` taps at
``dilation`` reads the ``span + 1`` newest rows of its history, ``span = (taps - 1) *
dilation``, whatever its alignment: a conv with lookahead ``right`` computes the output
``right`` samples in the past, so a chain of such convs runs here unchanged once every
history is full, and only the residual needs the delay, ``lag`` (its sum of ``right`` over
the block's convs): read from the block input's history, or, where that keeps fewer rows,
from a history of ``lag`` rows of the residual itself (a delay line: the block's column
``DELAY``), which the block appends to.

Imported on first use, so ``import wavedil`` does not import numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..history import CACHE_LINE
from .blas import product_rows
from .prefetch import prefetch_write

# columns of ``convs``, one row per conv (the chain's dilated convs, then the 1x1 convs):
# input and output channels, taps, dilation, offset of its weights in ``weights`` (rows
# ``k * C_in + c`` of ``C_out`` values, then the bias)
C_IN, C_OUT, TAPS, DILATION, WEIGHTS = range(5)
# columns of an arena's ``table`` (``TimeMajorArena``), one row per history: offset in
# ``buf``, capacity in rows, rows kept (the span), then the positions start and end
OFFSET, CAPACITY, SIZE, START, END = range(5)
# columns of ``blocks``: its two convs, the 1x1 conv of its residual (-1: none), the
# residual's lag in samples, (read on the last block) the 1x1 head (-1: none), and the
# history that delays its residual (-1: none, the residual is read ``lag`` rows back in
# its first conv's history, which keeps that far when ``lag <= span``)
CONV1, CONV2, PROJECTION, LAG, HEAD, DELAY = range(6)
# from this many rows on, the step's products are BLAS calls (``blas_product``); a chunk of
# one sample takes the loops of ``product`` (a one-row BLAS call costs more)
BLAS_ROWS = 2


@njit(cache=True, nogil=True)
def reserve(buf, table, j, batch, channels, m):
    """``History.reserve(m)`` of history ``j`` of a ``TimeMajorArena``: returns the row
    where the caller writes ``m`` samples, after the kept rows; when the region's end is
    reached the kept rows move to its front (of every batch row's region)."""
    offset, capacity, size = table[j, OFFSET], table[j, CAPACITY], table[j, SIZE]
    start, end = table[j, START], table[j, END]
    if end + m > capacity:
        kept = end - start
        if kept + m > capacity:
            raise ValueError("reserve: the history's region is too small for the append")
        for b in range(batch):
            base = offset + b * capacity * channels
            src = buf[base + start * channels : base + end * channels]
            dst = buf[base : base + kept * channels]
            for i in range(kept * channels):
                dst[i] = src[i]
        start, end = 0, kept
    slot = end
    end += m
    table[j, START], table[j, END] = max(start, end - size), end
    return slot


# conv widths (C_in = C_out) whose one-row product is compiled with the width as a constant
SQUARE_WIDTHS = (16, 32, 64, 128)


@njit(cache=True, nogil=True)
def _row(src, a, tap_step, taps, c_in, weights, w0, c_out, y):
    """``_row_body``; a conv of one of ``SQUARE_WIDTHS`` runs a copy compiled with its
    width as a constant (fixed trip counts: LLVM drops the remainder loops and the
    run-time checks around its vector loops), summed in the same order."""
    if c_in == c_out == 64:
        _row_64(src, a, tap_step, taps, weights, w0, y)
    elif c_in == c_out == 32:
        _row_32(src, a, tap_step, taps, weights, w0, y)
    elif c_in == c_out == 128:
        _row_128(src, a, tap_step, taps, weights, w0, y)
    elif c_in == c_out == 16:
        _row_16(src, a, tap_step, taps, weights, w0, y)
    else:
        _row_body(src, a, tap_step, taps, c_in, weights, w0, c_out, y)


# one function per width, written out: numba caches only functions defined at module
# level, and each copy must see its width as a constant
@njit(cache=True, nogil=True)
def _row_16(src, a, tap_step, taps, weights, w0, y):
    _row_body(src, a, tap_step, taps, 16, weights, w0, 16, y)


@njit(cache=True, nogil=True)
def _row_32(src, a, tap_step, taps, weights, w0, y):
    _row_body(src, a, tap_step, taps, 32, weights, w0, 32, y)


@njit(cache=True, nogil=True)
def _row_64(src, a, tap_step, taps, weights, w0, y):
    _row_body(src, a, tap_step, taps, 64, weights, w0, 64, y)


@njit(cache=True, nogil=True)
def _row_128(src, a, tap_step, taps, weights, w0, y):
    _row_body(src, a, tap_step, taps, 128, weights, w0, 128, y)


@njit(cache=True, nogil=True, inline="always")
def _row_body(src, a, tap_step, taps, c_in, weights, w0, c_out, y):
    """One output row: ``y[o] += sum_r x[r] w[r, o]`` in the order of the module
    docstring, two groups of four rows per pass over ``y``; ``y`` holds the bias on
    entry. (Inlined where it is called, so constant widths reach its loops.)"""
    for k in range(taps):
        xs = src[a + k * tap_step : a + k * tap_step + c_in]
        wk = w0 + k * c_in * c_out
        c = 0
        while c + 8 <= c_in:
            v0, v1, v2, v3 = xs[c], xs[c + 1], xs[c + 2], xs[c + 3]
            v4, v5, v6, v7 = xs[c + 4], xs[c + 5], xs[c + 6], xs[c + 7]
            w = weights[wk + c * c_out : wk + (c + 8) * c_out]
            n = c_out
            for o in range(c_out):
                y[o] = ((y[o] + ((v0 * w[o] + v1 * w[n + o])
                                 + (v2 * w[2 * n + o] + v3 * w[3 * n + o])))
                        + ((v4 * w[4 * n + o] + v5 * w[5 * n + o])
                           + (v6 * w[6 * n + o] + v7 * w[7 * n + o])))
            c += 8
        if c + 4 <= c_in:
            v0, v1, v2, v3 = xs[c], xs[c + 1], xs[c + 2], xs[c + 3]
            w = weights[wk + c * c_out : wk + (c + 4) * c_out]
            n = c_out
            for o in range(c_out):
                y[o] = y[o] + ((v0 * w[o] + v1 * w[n + o])
                               + (v2 * w[2 * n + o] + v3 * w[3 * n + o]))
            c += 4
        while c < c_in:
            v = xs[c]
            w = weights[wk + c * c_out : wk + (c + 1) * c_out]
            for o in range(c_out):
                y[o] = y[o] + v * w[o]
            c += 1


@njit(cache=True, nogil=True)
def _rows4(src, a, row_step, tap_step, taps, c_in, weights, w0, c_out, ys):
    """Four output rows, ``ys[t * c_out + o]`` for ``t < 4`` (input rows ``a``, ``a +
    row_step``, ...), that share every weight load, one group of four input rows per pass;
    the same order per output as ``_row``. (One slice for the four rows: fewer runtime
    alias checks before each vectorised loop.)"""
    n = c_out
    for k in range(taps):
        b = a + k * tap_step
        x0 = src[b : b + c_in]
        x1 = src[b + row_step : b + row_step + c_in]
        x2 = src[b + 2 * row_step : b + 2 * row_step + c_in]
        x3 = src[b + 3 * row_step : b + 3 * row_step + c_in]
        wk = w0 + k * c_in * c_out
        c = 0
        while c + 4 <= c_in:
            a0, a1, a2, a3 = x0[c], x0[c + 1], x0[c + 2], x0[c + 3]
            b0, b1, b2, b3 = x1[c], x1[c + 1], x1[c + 2], x1[c + 3]
            d0, d1, d2, d3 = x2[c], x2[c + 1], x2[c + 2], x2[c + 3]
            e0, e1, e2, e3 = x3[c], x3[c + 1], x3[c + 2], x3[c + 3]
            w = weights[wk + c * n : wk + (c + 4) * n]
            for o in range(n):
                p, q, s, u = w[o], w[n + o], w[2 * n + o], w[3 * n + o]
                ys[o] = ys[o] + ((a0 * p + a1 * q) + (a2 * s + a3 * u))
                ys[n + o] = ys[n + o] + ((b0 * p + b1 * q) + (b2 * s + b3 * u))
                ys[2 * n + o] = ys[2 * n + o] + ((d0 * p + d1 * q) + (d2 * s + d3 * u))
                ys[3 * n + o] = ys[3 * n + o] + ((e0 * p + e1 * q) + (e2 * s + e3 * u))
            c += 4
        while c < c_in:
            a0, b0, d0, e0 = x0[c], x1[c], x2[c], x3[c]
            w = weights[wk + c * n : wk + (c + 1) * n]
            for o in range(n):
                p = w[o]
                ys[o] = ys[o] + a0 * p
                ys[n + o] = ys[n + o] + b0 * p
                ys[2 * n + o] = ys[2 * n + o] + d0 * p
                ys[3 * n + o] = ys[3 * n + o] + e0 * p
            c += 1


@njit(cache=True, nogil=True)
def tap_products(src, a, row_step, tap_step, taps, c_in, weights, w0, n, dst, d0, d_step, m):
    """The sum over the taps, without the bias, of ``n`` outputs whose weights (rows of
    ``n``, then the bias) start at ``w0``: per tap one BLAS product of its ``m`` rows of
    ``c_in`` values, read in place from ``src[a + k tap_step]`` with rows ``row_step``
    apart (no im2col copy), times that tap's weights, added into ``m`` rows of ``n`` from
    ``dst[d0]``, ``d_step`` apart (``blas.product_rows``: no buffer to sum in)."""
    for k in range(taps):
        product_rows(src, a + k * tap_step, row_step, weights, w0 + k * c_in * n, dst, d0,
                     d_step, m, n, c_in, k > 0)


@njit(cache=True, nogil=True)
def blas_product(src, a, row_step, tap_step, taps, c_in, weights, w0, c_out, dst, d0, m):
    """``product`` as BLAS matrix products (summed in BLAS's order): per tap, the ``m``
    rows of the tap read in place, ``(m, c_in)`` with rows ``row_step`` apart, times that
    tap's weights ``(c_in, c_out)``, added into ``dst`` (``tap_products``); then the bias
    added."""
    bias = weights[w0 + taps * c_in * c_out : w0 + (taps * c_in + 1) * c_out]
    tap_products(src, a, row_step, tap_step, taps, c_in, weights, w0, c_out, dst, d0, c_out,
                 m)
    for t in range(m):
        y = dst[d0 + t * c_out : d0 + (t + 1) * c_out]
        for o in range(c_out):
            y[o] = y[o] + bias[o]


@njit(cache=True, nogil=True)
def product(src, a, row_step, tap_step, taps, c_in, weights, w0, c_out, dst, d0, m):
    """``m`` rows of a conv's output, written to ``dst[d0 + t * c_out + o]``::

        bias[o] + sum_{k < taps} sum_{c < c_in} src[a + t row_step + k tap_step + c]
                                                * weights[w0 + (k c_in + c) c_out + o]

    with ``bias = weights[w0 + taps c_in c_out :][:c_out]``, summed in the order of the
    module docstring. A time-major history gives ``row_step = C_in`` and ``tap_step =
    dilation * C_in``; a 1x1 conv is ``taps = 1``. ``dst`` must not overlap the inputs.
    """
    bias = weights[w0 + taps * c_in * c_out : w0 + (taps * c_in + 1) * c_out]
    t = 0
    while t + 4 <= m:
        ys = dst[d0 + t * c_out : d0 + (t + 4) * c_out]
        for i in range(4):
            for o in range(c_out):
                ys[i * c_out + o] = bias[o]
        _rows4(src, a + t * row_step, row_step, tap_step, taps, c_in, weights, w0, c_out, ys)
        t += 4
    while t < m:
        y = dst[d0 + t * c_out : d0 + (t + 1) * c_out]
        for o in range(c_out):
            y[o] = bias[o]
        _row(src, a + t * row_step, tap_step, taps, c_in, weights, w0, c_out, y)
        t += 1


@njit(cache=True, nogil=True)
def rows_product(src, a, row_step, tap_step, taps, c_in, weights, w0, c_out, dst, d0, m):
    """``product`` for one row, ``blas_product`` for ``BLAS_ROWS`` rows and more."""
    if m >= BLAS_ROWS:
        blas_product(src, a, row_step, tap_step, taps, c_in, weights, w0, c_out, dst, d0, m)
    else:
        product(src, a, row_step, tap_step, taps, c_in, weights, w0, c_out, dst, d0, m)


@njit(cache=True, nogil=True)
def take_chunk(x, finite_only, blocks, buf, table):
    """The chunk ``x`` ``(B, C_in, m)`` transposed into the first block's history; False,
    and nothing touched, while a history is not full (the caller's other path runs) or,
    with ``finite_only``, if ``x`` holds a NaN or an infinity (its checks say what)."""
    batch, c0, m = x.shape
    for j in range(table.shape[0]):
        if table[j, END] - table[j, START] != table[j, SIZE]:
            return False
    if finite_only:
        for b in range(batch):
            for c in range(c0):
                for t in range(m):
                    if not np.isfinite(x[b, c, t]):
                        return False
    j = blocks[0, CONV1]
    slot = reserve(buf, table, j, batch, c0, m)
    for b in range(batch):
        base = table[j, OFFSET] + (b * table[j, CAPACITY] + slot) * c0
        for t in range(m):
            for c in range(c0):
                buf[base + t * c0 + c] = x[b, c, t]
    return True


@njit(cache=True, nogil=True)
def prefetch_appends(buf, table, batch, m):
    """Bring into the cache the rows where the next ``m`` samples of every history of the
    arena go (a region's rows are written once per pass through it, so each new row
    would otherwise be fetched from memory while the step waits for it)."""
    last, line = table.shape[0] - 1, max(1, CACHE_LINE // buf.itemsize)
    for j in range(last + 1):
        capacity, end = table[j, CAPACITY], table[j, END]
        if end + m > capacity:  # (the next append moves the kept rows first)
            continue
        stop = table[j + 1, OFFSET] if j < last else buf.size
        channels = (stop - table[j, OFFSET]) // (batch * capacity)
        for b in range(batch):
            base = table[j, OFFSET] + (b * capacity + end) * channels
            for i in range(0, m * channels, line):
                prefetch_write(buf, base + i)


@njit(cache=True, nogil=True)
def residual_chain(x, y, weights, convs, blocks, buf, table, finite_only=False):
    """One chunk through a chain of residual blocks (a TCN), every history in the arena.

    Block ``i`` (row ``i`` of ``blocks``) with input ``u`` (its first conv's history):
    ``h = relu(conv1(u))`` goes into conv2's history, then the block's output
    ``relu(relu(conv2(h)) + r)`` into the next block's first history (the last block's into
    ``y``, through the 1x1 head if it has one), where ``r`` is ``u`` delayed by ``lag``
    samples, or its 1x1 projection (through the block's delay history if it has one). The
    chunk itself enters the first block's history as it is.

    Shape: ``x`` ``(B, C_in, m)`` and ``y`` ``(B, C_out, m)`` (any strides); ``convs``,
    ``blocks`` and ``table`` as the column names above say. Every region must take ``m``
    more rows. Returns False, having touched nothing, if a history is not full (``span``
    rows kept) or, with ``finite_only``, if ``x`` holds a NaN or an infinity; else True.
    """
    batch, c0, m = x.shape
    zero = buf.dtype.type(0)
    width = 0
    for j in range(convs.shape[0]):
        width = max(width, convs[j, C_IN], convs[j, C_OUT])
    if not take_chunk(x, finite_only, blocks, buf, table):
        return False
    scratch = np.empty(3 * batch * m * width, buf.dtype)
    s_out, s_res, s_last = 0, batch * m * width, 2 * batch * m * width
    last = blocks.shape[0] - 1
    for i in range(last + 1):
        j1, j2, projection, lag = blocks[i, CONV1], blocks[i, CONV2], blocks[i, PROJECTION], \
            blocks[i, LAG]
        jd = blocks[i, DELAY]
        c_in, c_mid, c_out = convs[j1, C_IN], convs[j1, C_OUT], convs[j2, C_OUT]
        slot1 = table[j1, END] - m  # the block input's rows (just written)
        slot2 = reserve(buf, table, j2, batch, c_mid, m)
        cap1, cap2 = table[j1, CAPACITY], table[j2, CAPACITY]
        span1 = (convs[j1, TAPS] - 1) * convs[j1, DILATION]
        span2 = (convs[j2, TAPS] - 1) * convs[j2, DILATION]
        jn, slot_next = j1, 0
        if i < last:
            jn = blocks[i + 1, CONV1]
            slot_next = reserve(buf, table, jn, batch, c_out, m)
        slot_d = 0 if jd < 0 else reserve(buf, table, jd, batch, c_out, m)
        for b in range(batch):
            u = table[j1, OFFSET] + b * cap1 * c_in  # block input's region
            h = table[j2, OFFSET] + (b * cap2 + slot2) * c_mid  # where conv1 writes
            rows_product(buf, u + (slot1 - span1) * c_in, c_in, convs[j1, DILATION] * c_in,
                    convs[j1, TAPS], c_in, weights, convs[j1, WEIGHTS], c_mid, buf, h, m)
            hs = buf[h : h + m * c_mid]
            for n in range(m * c_mid):
                hs[n] = max(hs[n], zero)
            out = s_out + b * m * c_out
            rows_product(buf, h - span2 * c_mid, c_mid, convs[j2, DILATION] * c_mid,
                    convs[j2, TAPS], c_mid, weights, convs[j2, WEIGHTS], c_out, scratch, out,
                    m)
            if jd >= 0:  # the residual of the new rows into its delay line, then lag back
                d0 = table[jd, OFFSET] + b * table[jd, CAPACITY] * c_out
                if projection >= 0:
                    rows_product(buf, u + slot1 * c_in, c_in, 0, 1, c_in, weights,
                                 convs[projection, WEIGHTS], c_out, buf, d0 + slot_d * c_out, m)
                else:
                    new = buf[u + slot1 * c_in : u + (slot1 + m) * c_in]
                    line = buf[d0 + slot_d * c_out : d0 + (slot_d + m) * c_out]
                    for n in range(m * c_out):
                        line[n] = new[n]
                rs = buf[d0 + (slot_d - lag) * c_out : d0 + (slot_d - lag + m) * c_out]
            elif projection >= 0:
                res = s_res + b * m * c_out
                rows_product(buf, u + (slot1 - lag) * c_in, c_in, 0, 1, c_in, weights,
                        convs[projection, WEIGHTS], c_out, scratch, res, m)
                rs = scratch[res : res + m * c_out]
            else:
                rs = buf[u + (slot1 - lag) * c_in : u + (slot1 - lag + m) * c_in]
            if i < last:
                d = table[jn, OFFSET] + (b * table[jn, CAPACITY] + slot_next) * c_out
                dst = buf[d : d + m * c_out]
            else:
                dst = scratch[s_last + b * m * c_out : s_last + (b + 1) * m * c_out]
            ys = scratch[out : out + m * c_out]
            for n in range(m * c_out):
                dst[n] = max(max(ys[n], zero) + rs[n], zero)
    c_last, head = convs[blocks[last, CONV2], C_OUT], blocks[last, HEAD]
    c_y = y.shape[1]
    for b in range(batch):
        src = s_last + b * m * c_last
        if head >= 0:
            rows_product(scratch, src, c_last, 0, 1, c_last, weights, convs[head, WEIGHTS], c_y,
                    scratch, s_out, m)
            src = s_out
        for t in range(m):
            for c in range(c_y):
                y[b, c, t] = scratch[src + t * c_y + c]
    prefetch_appends(buf, table, batch, m)  # for the next chunk
    return True
