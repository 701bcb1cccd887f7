"""The compiled (numba) passes of a NAM stream: every layer of a chunk in one call.

A NAM model has many narrow layers (the standard preset: 20 layers of 16 and 8 channels),
so a chunk costs little arithmetic per layer and numpy's per-call overhead would dominate;
these passes run a whole chunk in one call, each conv reading its taps from a ring buffer:
``run`` sample by sample through every layer (for a few samples), ``run_block`` layer by
layer over the chunk, each product a small matrix product along time, which the compiler
vectorises (numba does not run LLVM's SLP vectoriser, so a loop along time is the one that
becomes vector code). ``wavedil.models.nam`` builds their arguments (the ``program``) from
a model and keeps the rings in the stream's state.

- ``w``: every weight in one flat array, each matrix input-major (row ``i`` holds input
  ``i``'s weights to every output, padded to a multiple of ``LANES``; a conv's inputs are
  its taps, ``k * C_in + c``);
  ``acts``: ``(layers + 1, 2, 4)`` parameters of each layer's primary and secondary
  activation (the last row: the head's), their codes (``CODES``) in the tables.
- ``layers`` (one row per layer, ``LAYER``), ``arrays`` (one row per layer array,
  ``ARRAY``), ``head`` (one row per head block, ``HEAD``): int64 tables of sizes and offsets.
- ``ring``: ``(B, size)``; conv ``i`` keeps its input's last ``R = mask + 1`` samples (a
  power of two, at least its span plus the longest chunk) channel-major: time ``t`` of
  channel ``c`` at ``offset + c (R + ROOM) + (t & mask)``, and the first ``ROOM`` positions
  again after the ``R``, so that a window of up to ``ROOM`` samples is contiguous wherever
  it starts (``run_block`` reads its taps there).

``tanh`` in float64 is computed from ``expm1`` (a Taylor polynomial on ``|x| / 32``, then six
doublings ``m <- m (m + 2)``): within a few float64 ulps of ``np.tanh``; in float32 by Eigen's
rational approximation in float32 arithmetic (a few float32 ulps), which vectorises.

Imported on first use, so ``import wavedil`` does not import numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit

CODES = {"Tanh": 0, "Sigmoid": 1, "ReLU": 2, "LeakyReLU": 3, "Hardtanh": 4,
         "LeakyHardtanh": 5, "SiLU": 6, "Hardswish": 7, "Softsign": 8, "Softsigmoid": 9}
GATINGS = {"none": 0, "gated": 1, "blended": 2}
# columns of the int tables
LAYER = ("ring", "mask", "span", "dilation", "taps", "channels", "mid", "bottleneck",
         "conv", "bias", "mixin", "gating", "primary", "secondary", "out", "out_bias",
         "out_width", "residual", "head")
ARRAY = ("inputs", "channels", "rechannel", "first", "count", "head_in", "head_out",
         "head_taps", "head_ring", "head_mask", "head_w", "head_b")
HEAD = ("inputs", "outputs", "taps", "ring", "mask", "w", "b", "activation")
(L_RING, L_MASK, L_SPAN, L_DIL, L_TAPS, L_CH, L_MID, L_BOT, L_CONV, L_BIAS, L_MIX, L_GATE,
 L_PRIM, L_SEC, L_OUT, L_OUTB, L_OUTW, L_RES, L_HEAD) = range(len(LAYER))
(A_IN, A_CH, A_RECH, A_FIRST, A_COUNT, A_HIN, A_HOUT, A_HTAPS, A_HRING, A_HMASK, A_HW,
 A_HB) = range(len(ARRAY))
H_IN, H_OUT, H_TAPS, H_RING, H_MASK, H_W, H_B, H_ACT = range(len(HEAD))


ROOM = 255  # the longest chunk the passes take (the rings' repeated positions)
LANES = 8  # outputs at a time in _matvec (weight rows are padded to a multiple)
FAST = {"reassoc", "contract"}  # sums in any order (vectorised dot products); no nnan/ninf
INVERSES = (0.0,) + tuple(1.0 / k for k in range(1, 18))  # 1 / k: the Horner steps


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _tanh(x):
    a = abs(np.float64(x))
    a = a if a < 19.1 else 19.1  # tanh(19.1) rounds to 1 in float64
    y = a * 0.03125
    p = 1.0
    for k in range(17, 1, -1):  # expm1(y) / y = 1 + y/2 (1 + y/3 (1 + ...))
        p = 1.0 + y * p * INVERSES[k]
    m = y * p
    for _ in range(5):  # expm1(2y) = m (m + 2)
        m = m * (m + 2.0)
    m = m * (m + 2.0)  # expm1(2 |x|)
    r = m / (m + 2.0)
    return r if x >= 0 else -r


# Eigen's float32 tanh: a rational odd polynomial on [-7.9988, 7.9988] (a few float32 ulps)
_TANH_P = (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
           5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04,
           4.89352455891786e-03)
_TANH_Q = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03,
           4.89352518554385e-03)
_TANH_CLAMP = 7.99881172180175781


@njit(cache=True, nogil=True, inline="always", error_model="numpy", fastmath=FAST)
def _tanh32(x):
    """``tanh`` of a float32 in float32 arithmetic (vectorises: no branch, no table)."""
    c = np.float32(_TANH_CLAMP)
    x = min(max(x, -c), c)
    x2 = x * x
    p = np.float32(_TANH_P[0])
    p = p * x2 + np.float32(_TANH_P[1])
    p = p * x2 + np.float32(_TANH_P[2])
    p = p * x2 + np.float32(_TANH_P[3])
    p = p * x2 + np.float32(_TANH_P[4])
    p = p * x2 + np.float32(_TANH_P[5])
    p = p * x2 + np.float32(_TANH_P[6])
    q = np.float32(_TANH_Q[0])
    q = q * x2 + np.float32(_TANH_Q[1])
    q = q * x2 + np.float32(_TANH_Q[2])
    q = q * x2 + np.float32(_TANH_Q[3])
    return x * p / q


@njit(cache=True, nogil=True, error_model="numpy")
def _activate(code, prm, src, dst, n):
    """``dst[:n] = act(src[:n])`` for activation ``code`` with parameters ``prm``."""
    single = src.itemsize == 4  # float32: tanh in float32 arithmetic
    if code == 0 and single:
        for j in range(n):
            dst[j] = _tanh32(src[j])
    elif code == 0:
        for j in range(n):
            dst[j] = _tanh(src[j])
    elif code == 1 and single:
        for j in range(n):
            dst[j] = 0.5 + 0.5 * _tanh32(0.5 * src[j])
    elif code == 1:
        for j in range(n):
            dst[j] = 0.5 + 0.5 * _tanh(0.5 * src[j])
    elif code == 2:
        for j in range(n):
            dst[j] = max(src[j], 0.0)
    elif code == 3:
        for j in range(n):
            v = src[j]
            dst[j] = v if v > 0 else v * prm[0]
    elif code == 4:
        for j in range(n):
            dst[j] = min(max(src[j], prm[0]), prm[1])
    elif code == 5:
        for j in range(n):
            v = src[j]
            if v < prm[0]:
                v = (v - prm[0]) * prm[2] + prm[0]
            elif v > prm[1]:
                v = (v - prm[1]) * prm[3] + prm[1]
            dst[j] = v
    elif code == 6:
        for j in range(n):
            v = src[j]
            dst[j] = v * (0.5 + 0.5 * (_tanh32(0.5 * v) if single else _tanh(0.5 * v)))
    elif code == 7:
        for j in range(n):
            v = src[j]
            dst[j] = v * min(max(v + 3.0, 0.0), 6.0) / 6.0
    elif code == 8:
        for j in range(n):
            dst[j] = src[j] / (1.0 + abs(src[j]))
    else:
        for j in range(n):
            dst[j] = 0.5 * (1.0 + src[j] / (1.0 + abs(src[j])))


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _gather(ring, b, base, mask, now, span, dilation, taps, width, col):
    """``col[k * C + c] = ring[time now - span + k d, c]``: a conv's taps, contiguous."""
    row, step = ring[b], np.uint64(mask + 1 + ROOM)
    for k in range(taps):
        at = np.uint64(base + ((now - span + k * dilation) & mask))
        for c in range(width):
            col[k * width + c] = row[at]
            at += step


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _store(ring, b, base, mask, now, src, width):
    """Sample ``src[:width]`` as time ``now`` in a ring (twice in the first ``ROOM``)."""
    row, step, size = ring[b], np.uint64(mask + 1 + ROOM), np.uint64(mask + 1)
    pos = now & mask
    at = np.uint64(base + pos)
    if pos < ROOM:
        for c in range(width):
            row[at] = row[at + size] = src[c]
            at += step
    else:
        for c in range(width):
            row[at] = src[c]
            at += step


# unsigned offsets: numba indexes with them without the negative-index fix-up (a compare
# and a select per load), which would triple the instructions of the scalar products
U1, U2, U3, U4, U5, U6, U7 = (np.uint64(k) for k in range(1, 8))


@njit(cache=True, nogil=True, inline="always", error_model="numpy", fastmath=FAST)
def _matvec(src, n_in, w, off, out, n_out):
    """``out[:n_out] += W src[:n_in]``; ``W`` input-major at ``off``, rows padded to a
    multiple of ``LANES`` (``out`` has room for the padding: its values there are junk).
    Eight outputs at a time in eight scalars (eight sums in flight)."""
    stride = np.uint64((n_out + LANES - 1) // LANES * LANES)
    for j in range(0, n_out, LANES):
        o = np.uint64(j)
        a0, a1, a2, a3 = out[o], out[o + U1], out[o + U2], out[o + U3]
        a4, a5, a6, a7 = out[o + U4], out[o + U5], out[o + U6], out[o + U7]
        b = np.uint64(off) + o
        for i in range(n_in):
            v = src[i]
            a0 += v * w[b]
            a1 += v * w[b + U1]
            a2 += v * w[b + U2]
            a3 += v * w[b + U3]
            a4 += v * w[b + U4]
            a5 += v * w[b + U5]
            a6 += v * w[b + U6]
            a7 += v * w[b + U7]
            b += stride
        out[o], out[o + U1], out[o + U2], out[o + U3] = a0, a1, a2, a3
        out[o + U4], out[o + U5], out[o + U6], out[o + U7] = a4, a5, a6, a7


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _bias(w, off, out, n_out):
    """``out[:n_out] = w[off:off + n_out]`` (zeros when ``off < 0``)."""
    for j in range(n_out):
        out[j] = w[off + j] if off >= 0 else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def run(x, y, w, acts, layers, arrays, head, scale, ring, start, scratch):
    """Run a chunk: ``x`` ``(B, m)`` in, ``y`` ``(B, m)`` out, ``start`` samples seen
    before (the rings' clock). ``scratch``: ``(9, width)`` work rows, ``width`` at least
    twice the widest layer and the longest conv's ``K * C_in``."""
    inp, h, z, p, q, out, acc, nxt, col = (scratch[0], scratch[1], scratch[2], scratch[3],
                                           scratch[4], scratch[5], scratch[6], scratch[7],
                                           scratch[8])
    for b in range(x.shape[0]):
        for t in range(x.shape[1]):
            now = start + t
            xv = x[b, t]
            inp[0] = xv
            n_in, n_head = 1, 0
            for a in range(arrays.shape[0]):
                ar = arrays[a]
                ch = ar[A_CH]
                _bias(w, -1, h, ch)
                _matvec(inp, n_in, w, ar[A_RECH], h, ch)
                for j in range(ar[A_HIN]):
                    acc[j] = nxt[j] if n_head else 0.0
                for li in range(ar[A_FIRST], ar[A_FIRST] + ar[A_COUNT]):
                    ly = layers[li]  # (a row view: cheap next to a layer's work)
                    base, mask, mid, bot = ly[L_RING], ly[L_MASK], ly[L_MID], ly[L_BOT]
                    _store(ring, b, base, mask, now, h, ch)
                    for j in range(mid):
                        z[j] = w[ly[L_BIAS] + j] + w[ly[L_MIX] + j] * xv
                    _gather(ring, b, base, mask, now, ly[L_SPAN], ly[L_DIL], ly[L_TAPS], ch,
                            col)
                    _matvec(col, ly[L_TAPS] * ch, w, ly[L_CONV], z, mid)
                    _activate(ly[L_PRIM], acts[li, 0], z, p, bot)
                    if ly[L_GATE]:
                        _activate(ly[L_SEC], acts[li, 1], z[bot:], q, bot)
                        if ly[L_GATE] == 1:
                            for j in range(bot):
                                p[j] = p[j] * q[j]
                        else:
                            for j in range(bot):
                                p[j] = q[j] * p[j] + (1.0 - q[j]) * z[j]
                    n_out = ly[L_OUTW]
                    if n_out:
                        _bias(w, ly[L_OUTB], out, n_out)
                        _matvec(p, bot, w, ly[L_OUT], out, n_out)
                    src = out if ly[L_RES] else p
                    for c in range(ch):
                        h[c] += src[c]
                    src = out if ly[L_HEAD] else p
                    shift = ch if ly[L_HEAD] and ly[L_RES] else 0
                    for j in range(ar[A_HIN]):
                        acc[j] += src[shift + j]
                for c in range(ch):
                    inp[c] = h[c]
                n_in = ch
                _head_conv(ring, b, now, acc, ar[A_HIN], ar[A_HOUT], ar[A_HTAPS],
                           ar[A_HRING], ar[A_HMASK], w, ar[A_HW], ar[A_HB], nxt, col)
                n_head = ar[A_HOUT]
            for j in range(n_head):
                acc[j] = nxt[j] * scale
            for k in range(head.shape[0]):
                hd = head[k]
                _activate(hd[H_ACT], acts[layers.shape[0], 0], acc, acc, hd[H_IN])
                _head_conv(ring, b, now, acc, hd[H_IN], hd[H_OUT], hd[H_TAPS], hd[H_RING],
                           hd[H_MASK], w, hd[H_W], hd[H_B], nxt, col)
                for j in range(hd[H_OUT]):
                    acc[j] = nxt[j]
            y[b, t] = acc[0]


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _head_conv(ring, b, now, src, n_in, n_out, taps, base, mask, w, off, bias_off, out, col):
    """A causal conv of ``taps`` taps (dilation 1) on ``src`` into ``out``; with more than
    one tap ``src`` goes into its ring first."""
    _bias(w, bias_off, out, n_out)
    if taps == 1:
        _matvec(src, n_in, w, off, out, n_out)
        return
    _store(ring, b, base, mask, now, src, n_in)
    _gather(ring, b, base, mask, now, taps - 1, 1, taps, n_in, col)
    _matvec(col, taps * n_in, w, off, out, n_out)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _matmul(src, at, ld, n_in, w, off, out, n_out, m):
    """``out[j, :m] += sum_i W[i, j] src[at + i ld:][:m]`` on channel-major blocks (row
    ``j`` of ``out`` at ``j * m``); ``W`` input-major at ``off`` as in ``_matvec``. The innermost
    loop runs along time, so it vectorises whatever the widths; four outputs at a time, so
    that four sums are in flight (each ``out`` row is read and written once per input)."""
    stride = (n_out + LANES - 1) // LANES * LANES
    j = 0
    while j + 4 <= n_out:
        o = out[j * m: (j + 4) * m]
        for i in range(n_in):
            b = off + i * stride + j
            w0, w1, w2, w3 = w[b], w[b + 1], w[b + 2], w[b + 3]
            s = src[at + i * ld: at + i * ld + m]
            for t in range(m):
                v = s[t]
                o[t] += w0 * v
                o[m + t] += w1 * v
                o[2 * m + t] += w2 * v
                o[3 * m + t] += w3 * v
        j += 4
    while j < n_out:
        o = out[j * m: j * m + m]
        for i in range(n_in):
            wv = w[off + i * stride + j]
            s = src[at + i * ld: at + i * ld + m]
            for t in range(m):
                o[t] += wv * s[t]
        j += 1


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _conv_block(ring, b, now, src, width, taps, span, dilation, base, mask, w, off, bias_off,
                out, n_out, col, m):
    """A causal conv over a block: ``out`` ``(n_out, m)`` = bias + the conv of ``src``
    ``(width, m)`` (times ``now .. now + m - 1``): ``src`` goes into the ring, whose
    windows are then the taps' inputs. With one tap the conv is a 1x1 (no ring)."""
    for j in range(n_out):
        v = w[bias_off + j] if bias_off >= 0 else 0.0
        for t in range(m):
            out[j * m + t] = v
    if taps == 1 and span == 0:
        _matmul(src, 0, m, width, w, off, out, n_out, m)
        return
    size = mask + 1  # (at least span + m: the chunk goes in first)
    row = ring[b]
    for c in range(width):
        at = base + c * (size + ROOM)
        for t in range(m):
            pos = (now + t) & mask
            row[at + pos] = src[c * m + t]
            if pos < ROOM:
                row[at + pos + size] = src[c * m + t]
    stride = (n_out + LANES - 1) // LANES * LANES
    for k in range(taps):
        _matmul(row, base + ((now + k * dilation - span) & mask), size + ROOM, width, w,
                off + k * width * stride, out, n_out, m)


@njit(cache=True, nogil=True, error_model="numpy", fastmath=FAST)
def run_block(x, y, w, acts, layers, arrays, head, scale, ring, start, scratch):
    """``run``'s results, computed layer by layer over the whole chunk (each layer's
    products as one small matrix product along time, which vectorises): for chunks of
    more than a few samples. ``scratch``: ``(9, width * m)``, ``width`` as in ``run``."""
    m = x.shape[1]
    inp, h, z, p, q, out, acc, nxt, col = (scratch[0], scratch[1], scratch[2], scratch[3],
                                           scratch[4], scratch[5], scratch[6], scratch[7],
                                           scratch[8])
    for b in range(x.shape[0]):
        xv = x[b]
        for t in range(m):
            inp[t] = xv[t]
        n_in, n_head = 1, 0
        for a in range(arrays.shape[0]):
            ar = arrays[a]
            ch, hin = ar[A_CH], ar[A_HIN]
            h[: ch * m] = 0.0
            _matmul(inp, 0, m, n_in, w, ar[A_RECH], h, ch, m)
            for j in range(hin * m):
                acc[j] = nxt[j] if n_head else 0.0
            for li in range(ar[A_FIRST], ar[A_FIRST] + ar[A_COUNT]):
                ly = layers[li]
                mid, bot = ly[L_MID], ly[L_BOT]
                _conv_block(ring, b, start, h, ch, ly[L_TAPS], ly[L_SPAN], ly[L_DIL],
                            ly[L_RING], ly[L_MASK], w, ly[L_CONV], ly[L_BIAS], z, mid, col, m)
                for j in range(mid):
                    mix = w[ly[L_MIX] + j]
                    for t in range(m):
                        z[j * m + t] += mix * xv[t]
                n = bot * m
                _activate(ly[L_PRIM], acts[li, 0], z, p, n)
                if ly[L_GATE]:
                    _activate(ly[L_SEC], acts[li, 1], z[n:], q, n)
                    if ly[L_GATE] == 1:
                        for j in range(n):
                            p[j] = p[j] * q[j]
                    else:
                        for j in range(n):
                            p[j] = q[j] * p[j] + (1.0 - q[j]) * z[j]
                n_out = ly[L_OUTW]
                if n_out:
                    for j in range(n_out):
                        v = w[ly[L_OUTB] + j]
                        for t in range(m):
                            out[j * m + t] = v
                    _matmul(p, 0, m, bot, w, ly[L_OUT], out, n_out, m)
                src = out if ly[L_RES] else p
                for j in range(ch * m):
                    h[j] += src[j]
                src = out if ly[L_HEAD] else p
                shift = ch * m if ly[L_HEAD] and ly[L_RES] else 0
                for j in range(hin * m):
                    acc[j] += src[shift + j]
            for j in range(ch * m):
                inp[j] = h[j]
            n_in = ch
            _conv_block(ring, b, start, acc, hin, ar[A_HTAPS], ar[A_HTAPS] - 1, 1,
                        ar[A_HRING], ar[A_HMASK], w, ar[A_HW], ar[A_HB], nxt, ar[A_HOUT],
                        col, m)
            n_head = ar[A_HOUT]
        for j in range(n_head * m):
            acc[j] = nxt[j] * scale
        for k in range(head.shape[0]):
            hd = head[k]
            _activate(hd[H_ACT], acts[layers.shape[0], 0], acc, acc, hd[H_IN] * m)
            _conv_block(ring, b, start, acc, hd[H_IN], hd[H_TAPS], hd[H_TAPS] - 1, 1,
                        hd[H_RING], hd[H_MASK], w, hd[H_W], hd[H_B], nxt, hd[H_OUT], col, m)
            for j in range(hd[H_OUT] * m):
                acc[j] = nxt[j]
        for t in range(m):
            y[b, t] = acc[t]
