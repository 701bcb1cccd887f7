"""Compiled (numba) loops of the depthwise engine path and the à trous transform.

Imported lazily (by ``wavedil.engine.depthwise``, ``wavedil.wavelets.transform`` and
``wavedil.wavelets.streams`` on first use), so ``import wavedil`` does not import numba.

The loops run over blocks of ``BLOCK`` samples and, inside a block, over groups of up to
four taps: ``y = w0 x0 + w1 x1 + w2 x2 + w3 x3`` then ``y = y + w4 x4 + ...`` (Python's
left-to-right order), on contiguous slices indexed by the plain loop index so that LLVM
vectorises. No fastmath: every output is summed in tap order exactly as numpy's per-tap
formula ``y = w0 x0; y += w1 x1; ...``, so results are bit-identical to it, in float32
and float64 alike (numba compiles one specialisation per dtype).

Shape: a "row" is one channel of one batch item; 2-D arrays are ``(rows, n)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

BLOCK = 512  # samples per block: the block's inputs and outputs stay in L1


@njit(cache=True, nogil=True)
def _add_taps(xr, x0, taps, t, dilation, ys, m):
    """Add taps ``t .. t+3`` (fewer at the end) of ``taps`` to ``ys`` (``=`` when t == 0),
    in one pass over ``ys``.

    ``ys[i] (+)= sum_u taps[t+u] * xr[x0 + i + (t+u) * dilation]`` for i < m, in tap
    order. Returns the next tap index.
    """
    g = min(4, taps.shape[0] - t)
    o, d, first = x0 + t * dilation, dilation, t == 0
    xa, wa = xr[o : o + m], taps[t]
    if g == 4:
        xb, xc, xd = xr[o + d : o + d + m], xr[o + 2 * d : o + 2 * d + m], \
            xr[o + 3 * d : o + 3 * d + m]
        wb, wc, wd = taps[t + 1], taps[t + 2], taps[t + 3]
        if first:
            for i in range(m):
                ys[i] = wa * xa[i] + wb * xb[i] + wc * xc[i] + wd * xd[i]
        else:
            for i in range(m):
                ys[i] = ys[i] + wa * xa[i] + wb * xb[i] + wc * xc[i] + wd * xd[i]
    elif g == 3:
        xb, xc = xr[o + d : o + d + m], xr[o + 2 * d : o + 2 * d + m]
        wb, wc = taps[t + 1], taps[t + 2]
        if first:
            for i in range(m):
                ys[i] = wa * xa[i] + wb * xb[i] + wc * xc[i]
        else:
            for i in range(m):
                ys[i] = ys[i] + wa * xa[i] + wb * xb[i] + wc * xc[i]
    elif g == 2:
        xb, wb = xr[o + d : o + d + m], taps[t + 1]
        if first:
            for i in range(m):
                ys[i] = wa * xa[i] + wb * xb[i]
        else:
            for i in range(m):
                ys[i] = ys[i] + wa * xa[i] + wb * xb[i]
    elif first:
        for i in range(m):
            ys[i] = wa * xa[i]
    else:
        for i in range(m):
            ys[i] = ys[i] + wa * xa[i]
    return t + g


@njit(cache=True, nogil=True)
def _correlate_block(xr, x0, taps, dilation, ys, m):
    """``ys[i] = sum_t taps[t] * xr[x0 + i + t * dilation]`` for i < m (tap order)."""
    t = 0
    while t < taps.shape[0]:
        t = _add_taps(xr, x0, taps, t, dilation, ys, m)


@njit(cache=True, nogil=True)
def correlate_rows(x, x0, taps, dilation, y, y0, n):
    """Valid dilated cross-correlation of every row with one filter.

    ``y[r, y0 + i] = sum_t taps[t] * x[r, x0 + i + t * dilation]`` for i < n.

    Shape: ``x`` ``(rows, n_in)``, ``taps`` ``(K,)``, ``y`` ``(rows, n_out)``.
    """
    for r in range(x.shape[0]):
        xr, yr = x[r], y[r]
        for s in range(0, n, BLOCK):
            m = min(BLOCK, n - s)
            _correlate_block(xr, x0 + s, taps, dilation, yr[y0 + s : y0 + s + m], m)


@njit(cache=True, nogil=True)
def depthwise_rows(x, taps, dilation, y):
    """Depthwise valid cross-correlation: ``y[b, c, i] = sum_t taps[c, t] x[b, c, i + t d]``.

    Shape: ``x`` ``(B, C, n)``, ``taps`` ``(C, K)``, ``y`` ``(B, C, n - (K-1) d)``.
    """
    batch, channels, n = y.shape
    for b in range(batch):
        for c in range(channels):
            xr, yr, taps_c = x[b, c], y[b, c], taps[c]
            for s in range(0, n, BLOCK):
                m = min(BLOCK, n - s)
                _correlate_block(xr, s, taps_c, dilation, yr[s : s + m], m)


@njit(cache=True, nogil=True)
def analysis_rows(x, x0, lo_taps, hi_taps, dilation, left, scale, lo, lo0, hi, hi0, n):
    """One à trous level of every row: both outputs from one pass over the input.

    ``lo[r, lo0 + i] = sum_t lo_taps[t] x[r, x0 + i + t d]``; with highpass taps the same
    for ``hi[r, hi0 + i]``; else (a difference bank: ``hi_taps`` empty) the detail
    ``scale * x[r, x0 + i + left] - lo`` (``c_{j-1} - c_j``).

    Shape: ``x`` ``(rows, n_in)``; ``lo``, ``hi`` ``(rows, *)`` (``lo`` may be ``x``,
    another region of it).
    """
    for r in range(x.shape[0]):
        xr, lr, hr = x[r], lo[r], hi[r]
        for s in range(0, n, BLOCK):
            m = min(BLOCK, n - s)
            ls, hs = lr[lo0 + s : lo0 + s + m], hr[hi0 + s : hi0 + s + m]
            _correlate_block(xr, x0 + s, lo_taps, dilation, ls, m)
            if hi_taps.shape[0]:
                _correlate_block(xr, x0 + s, hi_taps, dilation, hs, m)
            else:
                xs = xr[x0 + s + left : x0 + s + left + m]
                for i in range(m):
                    hs[i] = scale * xs[i] - ls[i]


@njit(cache=True, nogil=True)
def synthesis_rows(c, w, x0, lo_taps, hi_taps, dilation, inverse_gain, y, y0, n):
    """One inverse SWT level of every row: both synthesis filters, the sum and the scale.

    ``y[r, y0 + i] = (sum_t lo_taps[t] c[r, x0 + i + t d] + sum_t hi_taps[t] w[r, x0 + i
    + t d]) * inverse_gain``: two per-tap sums, added, then scaled (numpy's order).

    Shape: ``c``, ``w`` ``(rows, n_in)``; ``y`` ``(rows, n_out)``.
    """
    acc = np.empty(BLOCK, y.dtype)
    for r in range(c.shape[0]):
        cr, wr, yr = c[r], w[r], y[r]
        for s in range(0, n, BLOCK):
            m = min(BLOCK, n - s)
            ys, hs = yr[y0 + s : y0 + s + m], acc[:m]
            _correlate_block(cr, x0 + s, lo_taps, dilation, ys, m)
            _correlate_block(wr, x0 + s, hi_taps, dilation, hs, m)
            for i in range(m):
                ys[i] = (ys[i] + hs[i]) * inverse_gain


# -- the forward stream: every level of a chunk in one call -------------------------------------

@njit(cache=True, nogil=True)
def _copy_rows(dst, d0, src, s0, n):
    """``dst[:, d0 : d0 + n] = src[:, s0 : s0 + n]`` as plain loops (they vectorise)."""
    for r in range(dst.shape[0]):
        ds, ss = dst[r, d0 : d0 + n], src[r, s0 : s0 + n]
        for i in range(n):
            ds[i] = ss[i]


@njit(cache=True, nogil=True)
def reserve(buf, base, pos, k, size, m):
    """``History.reserve(m)`` of history ``k`` of a ``HistoryArena`` (``buf``, ``base``,
    ``pos``) that keeps ``size`` samples: returns the column of ``buf`` where the caller
    writes the ``m`` samples, after the history's kept ``pos[k, 1] - pos[k, 0]`` samples.

    The same policy: when the region's end is reached, the kept samples move to its front.
    """
    start, end, b, capacity = pos[k, 0], pos[k, 1], base[k], base[k + 1] - base[k]
    if end + m > capacity:
        kept = end - start
        if kept + m > capacity:
            raise ValueError("reserve: the history's region is too small for the append")
        for r in range(buf.shape[0]):
            row = buf[r]
            for i in range(kept):
                row[b + i] = row[b + start + i]
        start, end = 0, kept
    slot = end
    end += m
    pos[k, 0], pos[k, 1] = max(start, end - size), end
    return b + slot


@njit(cache=True, nogil=True)
def _delay_line(buf, base, pos, k, delay, src, n, out, final):
    """``DelayLine.push`` of line ``k`` of an arena (``buf``, ``base``, ``pos``): push
    ``src[:, :n]``, write what is now ``delay`` samples old (all of it, then ``drain``, when
    ``final``) to ``out[:, :count]``; returns the count."""
    kept = pos[k, 1] - pos[k, 0]
    slot = reserve(buf, base, pos, k, delay, n)
    _copy_rows(buf, slot, src, 0, n)
    ready = kept + n if final else max(0, kept + n - delay)
    if ready != out.shape[1]:
        raise ValueError("stream_levels: delayed output count differs from the caller's")
    _copy_rows(out, 0, buf, slot - kept, ready)
    if final:
        pos[k, 0], pos[k, 1] = 0, 0
    return ready


@njit(cache=True, nogil=True)
def stream_levels(x, final, edge, geometry, lo_taps, hi_taps, scale, hist, hist_base, hist_pos,
                  lines, line_base, line_pos, c_tmp, w_tmp, out):
    """Run a chunk through every level of a causal-or-not à trous stream (``AtrousStream``).

    Level j keeps the last ``span_j = left_j + right_j`` samples of its input c_{j-1} in
    history j of the arena ``hist``, ``hist_base``, ``hist_pos`` (``buffer``, ``base``,
    ``positions`` of a ``wavedil.engine.history.HistoryArena``); an empty history is a
    level not started yet: its first samples come after ``left_j`` boundary samples (zeros,
    or that first sample when ``edge``); ``final`` pads ``right_j`` samples after the last
    one (zeros or that last sample). Each output n reads the window ``n - left_j .. n +
    right_j``; level j's c_j feeds level j+1 (through ``c_tmp``) and its w_j goes to
    ``out[j]``, through delay line j of the arena ``lines``, ``line_base``, ``line_pos``
    (through ``w_tmp``) when ``geometry[j, 3] > 0`` (w_J and c_J never wait). ``hi_taps``
    is empty for a difference bank (w_j = scale c_{j-1} - c_j).

    Shape: ``x`` ``(rows, m)``; ``geometry`` ``(J, 4)`` rows of (left, right, dilation,
    delay); ``out`` ``(J + 1, rows, m_out)`` with ``m_out`` what comes out of the last
    level (the caller counts it); ``c_tmp`` and ``w_tmp`` ``(rows, >= the most samples a
    level yields in one call)``.
    """
    levels = geometry.shape[0]
    src, n_src = x, x.shape[1]
    for j in range(levels):
        left, right, dilation, delay = geometry[j, 0], geometry[j, 1], geometry[j, 2], \
            geometry[j, 3]
        kept = hist_pos[j, 1] - hist_pos[j, 0]
        fill = 0
        if kept == 0:  # not started
            if n_src == 0:
                return
            fill = left
        pad = right if final else 0
        slot = reserve(hist, hist_base, hist_pos, j, left + right, fill + n_src + pad)
        for r in range(hist.shape[0]):
            row = hist[r]
            first = src[r, 0] if edge else 0.0
            for i in range(fill):
                row[slot + i] = first
            for i in range(n_src):
                row[slot + fill + i] = src[r, i]
            last = row[slot + fill + n_src - 1] if edge else 0.0
            for i in range(pad):
                row[slot + fill + n_src + i] = last
        n_out = max(0, kept + fill + n_src + pad - left - right)
        w_dst = w_tmp if delay > 0 else out[j]
        c_dst = out[levels] if j == levels - 1 else c_tmp
        if n_out > c_tmp.shape[1] or (n_out != out.shape[2] and (delay == 0 or
                                                                j == levels - 1)):
            raise ValueError("stream_levels: output count differs from the caller's")
        if n_out > 0:
            analysis_rows(hist, slot - kept, lo_taps, hi_taps, dilation, left, scale, c_dst, 0,
                          w_dst, 0, n_out)
        if delay > 0:
            _delay_line(lines, line_base, line_pos, j, delay, w_tmp, n_out, out[j], final)
        src, n_src = c_tmp, n_out
