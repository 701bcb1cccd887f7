"""Compiled (numba) glue between the matrix products of a streamed conv stack.

Between two dilated convs of a stack, numpy would make several passes over the
activations: the activation (ReLU), the residual sum, the copy into the next conv's
history, and K shifted copies into its im2col block. ``store_and_gather`` makes that one
pass per sample: it reads the product once, writes the activated result into the next
history's free slot and fills the next im2col block from that history. The products
themselves stay numpy's (``np.matmul``, numpy's BLAS), so a process runs one BLAS library.

Imported on first use (``wavedil.tcn``), so ``import wavedil`` does not import numba.
Every operation is a max or one addition per sample, in the order the numpy formula
``relu(relu(h) + x)`` takes, so the values equal numpy's in float32 and float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

COPY, RELU, RELU_RESIDUAL_RELU = 0, 1, 2  # the activation ``mode`` of ``store_and_gather``


@njit(cache=True, nogil=True, inline="always")
def _activate(dst, src, residual, mode, zero):
    """``dst[i] = act(src[i])`` by ``mode``; 1-D views indexed from 0, so the loops
    vectorise."""
    if mode == COPY:
        for i in range(dst.shape[0]):
            dst[i] = src[i]
    elif mode == RELU:
        for i in range(dst.shape[0]):
            dst[i] = max(src[i], zero)
    else:
        for i in range(dst.shape[0]):
            dst[i] = max(max(src[i], zero) + residual[i], zero)


@njit(cache=True, nogil=True, inline="always")
def _copy(dst, src):
    for i in range(dst.shape[0]):
        dst[i] = src[i]


@njit(cache=True, nogil=True)
def store_and_gather(src, residual, mode, buf, slot, span, dilation, taps, col):
    """Store an activated block in a history slot, then gather the next im2col block.

    ``buf[b, c, slot + t] = act(src[b, c, t])`` with act by ``mode``: ``COPY``: ``v``;
    ``RELU``: ``max(v, 0)``; ``RELU_RESIDUAL_RELU``: ``max(max(v, 0) + residual, 0)``.
    Then ``col[b, c * K + k, t] = buf[b, c, slot - span + k * dilation + t]`` for the
    ``K = taps`` taps (rows past ``C * K``, such as a bias row of ones, are left alone;
    ``taps = 0`` gathers nothing).

    Shape: ``src``, ``residual`` ``(B, C, m)``; ``buf`` ``(B, C, capacity)`` with
    ``span <= slot`` and ``slot + m <= capacity``; ``col`` ``(B, >= C * K, >= m)``.
    """
    batch, channels, m = src.shape
    zero = np.zeros(1, buf.dtype)[0]
    for b in range(batch):
        for c in range(channels):
            _activate(buf[b, c, slot : slot + m], src[b, c], residual[b, c], mode, zero)
            for k in range(taps):
                start = slot - span + k * dilation
                _copy(col[b, c * taps + k, :m], buf[b, c, start : start + m])


@njit(cache=True, nogil=True)
def store_and_gather_tm(src, residual, mode, buf, slot, span, dilation, taps, col):
    """``store_and_gather`` in time-major layout (``wavedil.fused``).

    ``buf[b, slot + t, c] = act(src[b, t, c])`` (``mode`` as in ``store_and_gather``), then
    ``col[b, t, k * C + c] = buf[b, slot - span + k * dilation + t, c]`` for ``k < taps``
    (columns past ``taps * C``, such as a bias column of ones, are left alone).

    Shape: ``src``, ``residual`` ``(B, m, C)``; ``buf`` ``(B, capacity, C)`` with
    ``span <= slot`` and ``slot + m <= capacity``; ``col`` ``(B, >= m, >= taps * C)``.
    """
    batch, m, channels = src.shape
    zero = np.zeros(1, buf.dtype)[0]
    for b in range(batch):
        for t in range(m):
            _activate(buf[b, slot + t], src[b, t], residual[b, t], mode, zero)
            for k in range(taps):
                _copy(col[b, t, k * channels : (k + 1) * channels],
                      buf[b, slot - span + k * dilation + t])
