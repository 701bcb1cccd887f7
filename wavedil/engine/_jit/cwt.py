"""Compiled (numba) loops of the continuous wavelet transform (``wavedil.wavelets.cwt``).

Imported lazily through ``wavedil.engine.compiled``. Every output is a sum in a fixed tap
order that does not depend on where the output sits in a block or a call, so a stream gives
the offline result bit for bit whatever its chunks (the blocks and tap groups of
``_jit.levels``; no fastmath).

- ``complex_bands``: many complex FIR bands over one real input (one à trous level), each
  output ``sum_t taps[b, t] x[r, start_b + i * step + t * dilation]``; a Hermitian filter
  (``taps[L - k] = conj(taps[L + k])``, every wavelet with a real spectrum) is folded: its
  real part reads ``x[c + k d] + x[c - k d]``, its imaginary part the difference, half the
  multiplies. With an output step > 1 (a decimated octave) the input is first split into
  ``step`` phases, so every tap still reads a contiguous run.
- ``strided_correlate``: a real filter with an output step (the decimated lowpass).

Shape: a "row" is one channel of one batch item; inputs are ``(rows, n)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .levels import BLOCK, _correlate_block


@njit(cache=True, nogil=True)
def _strided_block(xr, x0, step, taps, dilation, ys, m):
    """``ys[i] = sum_t taps[t] xr[x0 + i step + t dilation]`` for i < m, taps in order."""
    k = taps.shape[0]
    w = taps[0]
    for i in range(m):
        ys[i] = w * xr[x0 + i * step]
    for t in range(1, k):
        w, o = taps[t], x0 + t * dilation
        for i in range(m):
            ys[i] = ys[i] + w * xr[o + i * step]


@njit(cache=True, nogil=True)
def _fold_taps(xr, c, k, dilation, wr, wi, yr, yi, m):
    """Add taps ``k .. k+g-1`` (g = 4, 2 or 1: ``wr``/``wi`` hold them) of a folded filter
    to ``yr``/``yi`` in one pass, each tap added in turn (the sequential sum)."""
    g = wr.shape[0]
    d = dilation
    a0, b0 = xr[c + k * d : c + k * d + m], xr[c - k * d : c - k * d + m]
    if g == 4:
        a1, b1 = xr[c + (k + 1) * d : c + (k + 1) * d + m], \
            xr[c - (k + 1) * d : c - (k + 1) * d + m]
        a2, b2 = xr[c + (k + 2) * d : c + (k + 2) * d + m], \
            xr[c - (k + 2) * d : c - (k + 2) * d + m]
        a3, b3 = xr[c + (k + 3) * d : c + (k + 3) * d + m], \
            xr[c - (k + 3) * d : c - (k + 3) * d + m]
        r0, r1, r2, r3 = wr[0], wr[1], wr[2], wr[3]
        i0, i1, i2, i3 = wi[0], wi[1], wi[2], wi[3]
        for i in range(m):
            yr[i] = yr[i] + r0 * (a0[i] + b0[i]) + r1 * (a1[i] + b1[i]) \
                + r2 * (a2[i] + b2[i]) + r3 * (a3[i] + b3[i])
            yi[i] = yi[i] + i0 * (a0[i] - b0[i]) + i1 * (a1[i] - b1[i]) \
                + i2 * (a2[i] - b2[i]) + i3 * (a3[i] - b3[i])
    elif g == 2:
        a1, b1 = xr[c + (k + 1) * d : c + (k + 1) * d + m], \
            xr[c - (k + 1) * d : c - (k + 1) * d + m]
        r0, r1, i0, i1 = wr[0], wr[1], wi[0], wi[1]
        for i in range(m):
            yr[i] = yr[i] + r0 * (a0[i] + b0[i]) + r1 * (a1[i] + b1[i])
            yi[i] = yi[i] + i0 * (a0[i] - b0[i]) + i1 * (a1[i] - b1[i])
    else:
        r0, i0 = wr[0], wi[0]
        for i in range(m):
            yr[i] = yr[i] + r0 * (a0[i] + b0[i])
            yi[i] = yi[i] + i0 * (a0[i] - b0[i])


@njit(cache=True, nogil=True)
def _folded_block(xr, c, re, im, half, dilation, yr, yi, m):
    """A Hermitian filter of ``2 half + 1`` taps centred on ``xr[c + i]``.

    ``re``/``im`` hold taps ``L .. 2L`` (the centre first): ``yr = re0 x_c + sum_k re_k
    (x_{c+kd} + x_{c-kd})``, ``yi = im0 x_c + sum_k im_k (x_{c+kd} - x_{c-kd})``, added
    in the order of k (four taps a pass over the block).
    """
    r0, i0 = re[0], im[0]
    xc = xr[c : c + m]
    for i in range(m):
        yr[i] = r0 * xc[i]
        yi[i] = i0 * xc[i]
    k = 1
    while k <= half:
        left = half + 1 - k
        g = 4 if left >= 4 else 2 if left >= 2 else 1
        _fold_taps(xr, c, k, dilation, re[k : k + g], im[k : k + g], yr, yi, m)
        k += g


@njit(cache=True, nogil=True)
def _fold_phased(phases, o, k, dilation, step, wr, wi, yr, yi, m):
    """``_fold_taps`` on a signal split in ``step`` phases (``phases[p, q]`` is sample
    ``p + q step``): tap k of an output centred on sample ``o + i step`` reads samples
    ``o + k d + i step`` and ``o - k d + i step``, each a contiguous run of one phase."""
    g = wr.shape[0]
    d = dilation
    pa, pb = o + k * d, o - k * d
    a0 = phases[pa % step, pa // step : pa // step + m]
    b0 = phases[pb % step, pb // step : pb // step + m]
    if g == 4:
        pa1, pb1, pa2, pb2, pa3, pb3 = pa + d, pb - d, pa + 2 * d, pb - 2 * d, pa + 3 * d, \
            pb - 3 * d
        a1 = phases[pa1 % step, pa1 // step : pa1 // step + m]
        b1 = phases[pb1 % step, pb1 // step : pb1 // step + m]
        a2 = phases[pa2 % step, pa2 // step : pa2 // step + m]
        b2 = phases[pb2 % step, pb2 // step : pb2 // step + m]
        a3 = phases[pa3 % step, pa3 // step : pa3 // step + m]
        b3 = phases[pb3 % step, pb3 // step : pb3 // step + m]
        r0, r1, r2, r3 = wr[0], wr[1], wr[2], wr[3]
        i0, i1, i2, i3 = wi[0], wi[1], wi[2], wi[3]
        for i in range(m):
            yr[i] = yr[i] + r0 * (a0[i] + b0[i]) + r1 * (a1[i] + b1[i]) \
                + r2 * (a2[i] + b2[i]) + r3 * (a3[i] + b3[i])
            yi[i] = yi[i] + i0 * (a0[i] - b0[i]) + i1 * (a1[i] - b1[i]) \
                + i2 * (a2[i] - b2[i]) + i3 * (a3[i] - b3[i])
    elif g == 2:
        pa1, pb1 = pa + d, pb - d
        a1 = phases[pa1 % step, pa1 // step : pa1 // step + m]
        b1 = phases[pb1 % step, pb1 // step : pb1 // step + m]
        r0, r1, i0, i1 = wr[0], wr[1], wi[0], wi[1]
        for i in range(m):
            yr[i] = yr[i] + r0 * (a0[i] + b0[i]) + r1 * (a1[i] + b1[i])
            yi[i] = yi[i] + i0 * (a0[i] - b0[i]) + i1 * (a1[i] - b1[i])
    else:
        r0, i0 = wr[0], wi[0]
        for i in range(m):
            yr[i] = yr[i] + r0 * (a0[i] + b0[i])
            yi[i] = yi[i] + i0 * (a0[i] - b0[i])


@njit(cache=True, nogil=True)
def _phased_bands(xr, starts, step, dilation, taps_re, taps_im, lengths, rows_out, out, r,
                  out0, n, acc_re, acc_im):
    """Folded bands with an output step > 1 (the decimated octaves): the read span of x
    split once into ``step`` phases, so every tap reads a contiguous run (as when
    ``step == 1``) instead of gathering every ``step``-th sample."""
    lo = starts.min()
    hi = lo
    for b in range(starts.shape[0]):
        hi = max(hi, starts[b] + (n - 1) * step + (lengths[b] - 1) * dilation + 1)
    per = (hi - lo + step - 1) // step
    phases = np.zeros((step, per), xr.dtype)
    for p in range(step):
        row = phases[p]
        for q in range(per):
            t = lo + p + q * step
            if t < hi:
                row[q] = xr[t]
    for s in range(0, n, BLOCK):
        m = min(BLOCK, n - s)
        for b in range(starts.shape[0]):
            half = (lengths[b] - 1) // 2
            re, im = taps_re[b, half : lengths[b]], taps_im[b, half : lengths[b]]
            o = starts[b] - lo + s * step + half * dilation  # the centre of output s
            xc = phases[o % step, o // step : o // step + m]
            r0, i0 = re[0], im[0]
            for i in range(m):
                acc_re[i] = r0 * xc[i]
                acc_im[i] = i0 * xc[i]
            k = 1
            while k <= half:
                left = half + 1 - k
                g = 4 if left >= 4 else 2 if left >= 2 else 1
                _fold_phased(phases, o, k, dilation, step, re[k : k + g], im[k : k + g],
                             acc_re, acc_im, m)
                k += g
            y = out[rows_out[b], r]
            for i in range(m):
                y[out0 + s + i] = acc_re[i] + 1j * acc_im[i]


@njit(cache=True, nogil=True)
def complex_bands(x, starts, step, dilation, taps_re, taps_im, lengths, folded, rows_out,
                  out, out0, n):
    """Complex FIR bands of one input: ``out[rows_out[b], r, out0 + i] = sum_t (taps_re[b, t]
    + 1j taps_im[b, t]) x[r, starts[b] + i step + t dilation]`` for i < n.

    Band b has ``lengths[b]`` taps (odd when ``folded``: Hermitian, see the module docstring).
    Blocks of ``BLOCK`` outputs, every band of a block before the next block, so the input
    window stays in cache.

    Shape: ``x`` ``(rows, n_x)``; ``taps_*`` ``(bands, K_max)``; ``out`` complex
    ``(*, rows, n_out)``.
    """
    acc_re = np.empty(BLOCK, x.dtype)
    acc_im = np.empty(BLOCK, x.dtype)
    if folded and step > 1:
        for r in range(x.shape[0]):
            _phased_bands(x[r], starts, step, dilation, taps_re, taps_im, lengths, rows_out,
                          out, r, out0, n, acc_re, acc_im)
        return
    for r in range(x.shape[0]):
        xr = x[r]
        for s in range(0, n, BLOCK):
            m = min(BLOCK, n - s)
            for b in range(starts.shape[0]):
                k = lengths[b]
                x0 = starts[b] + s * step
                if folded:
                    half = (k - 1) // 2
                    _folded_block(xr, x0 + half * dilation, taps_re[b, half:k],
                                  taps_im[b, half:k], half, dilation, acc_re, acc_im, m)
                elif step == 1:
                    _correlate_block(xr, x0, taps_re[b, :k], dilation, acc_re, m)
                    _correlate_block(xr, x0, taps_im[b, :k], dilation, acc_im, m)
                else:
                    _strided_block(xr, x0, step, taps_re[b, :k], dilation, acc_re, m)
                    _strided_block(xr, x0, step, taps_im[b, :k], dilation, acc_im, m)
                o = out[rows_out[b], r]
                for i in range(m):
                    o[out0 + s + i] = acc_re[i] + 1j * acc_im[i]


@njit(cache=True, nogil=True)
def strided_correlate(x, x0, step, taps, dilation, y, y0, n):
    """``y[r, y0 + i] = sum_t taps[t] x[r, x0 + i step + t dilation]`` for i < n.

    Shape: ``x`` ``(rows, n_x)``, ``y`` ``(rows, n_y)``.
    """
    for r in range(x.shape[0]):
        xr, yr = x[r], y[r]
        for s in range(0, n, BLOCK):
            m = min(BLOCK, n - s)
            if step == 1:
                _correlate_block(xr, x0 + s, taps, dilation, yr[y0 + s : y0 + s + m], m)
            else:
                _strided_block(xr, x0 + s * step, step, taps, dilation,
                               yr[y0 + s : y0 + s + m], m)
