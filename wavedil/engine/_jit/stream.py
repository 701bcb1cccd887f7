"""Compiled (numba) glue between the matrix products of a streamed conv stack.

Between two dilated convs of a stack, numpy would make several passes over the
activations: the activation (ReLU), the residual sum, the copy into the next conv's
history, and K shifted copies into its im2col block. ``store_and_gather`` makes that one
pass per sample: it reads the product once, writes the activated result into the next
history's free slot and fills the next im2col block from that history. The products
themselves stay numpy's (``np.matmul``, numpy's BLAS), so a process runs one BLAS library.

The time-major loops index single elements (``buf[b, t, c]``) and take no slice per row:
there a slice per row (one row of channels) costs more than it saves.

Imported on first use (``wavedil.models.tcn``), so ``import wavedil`` does not import numba.
Every operation is a max or one addition per sample, in the order the numpy formula
``relu(relu(h) + x)`` takes, so the values equal numpy's in float32 and float64.
"""

from __future__ import annotations

from numba import njit

# the activation ``mode`` of the stores: v, max(v, 0), max(max(v, 0) + residual, 0) (TCN),
# v + residual (WaveNet's residual sum)
COPY, RELU, RELU_RESIDUAL_RELU, ADD = 0, 1, 2, 3


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
    elif mode == ADD:
        for i in range(dst.shape[0]):
            dst[i] = src[i] + residual[i]
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
    ``RELU``: ``max(v, 0)``; ``RELU_RESIDUAL_RELU``: ``max(max(v, 0) + residual, 0)``;
    ``ADD``: ``v + residual``.
    Then ``col[b, c * K + k, t] = buf[b, c, slot - span + k * dilation + t]`` for the
    ``K = taps`` taps (rows past ``C * K``, such as a bias row of ones, are left alone;
    ``taps = 0`` gathers nothing).

    Shape: ``src``, ``residual`` ``(B, C, m)``; ``buf`` ``(B, C, capacity)`` with
    ``span <= slot`` and ``slot + m <= capacity``; ``col`` ``(B, >= C * K, >= m)``.
    Channel-major rows are long (``m`` samples), so this one slices per row: 1-D views
    let the copies vectorise (scalar indexing does not).
    """
    batch, channels, m = src.shape
    zero = buf.dtype.type(0)
    for b in range(batch):
        for c in range(channels):
            _activate(buf[b, c, slot : slot + m], src[b, c], residual[b, c], mode, zero)
            for k in range(taps):
                start = slot - span + k * dilation
                _copy(col[b, c * taps + k, :m], buf[b, c, start : start + m])


@njit(cache=True, nogil=True)
def store_and_gather_tm(src, residual, mode, buf, slot, span, dilation, taps, col):
    """``store_and_gather`` in time-major layout (``wavedil.engine.fused``).

    ``buf[b, slot + t, c] = act(src[b, t, c])`` (``mode`` as in ``store_and_gather``), then
    ``col[b, t, k * C + c] = buf[b, slot - span + k * dilation + t, c]`` for ``k < taps``
    (columns past ``taps * C``, such as a bias column of ones, are left alone).

    Shape: ``src``, ``residual`` ``(B, m, C)``; ``buf`` ``(B, capacity, C)`` with
    ``span <= slot`` and ``slot + m <= capacity``; ``col`` ``(B, >= m, >= taps * C)``.
    """
    batch, m, channels = src.shape
    zero = buf.dtype.type(0)
    for b in range(batch):
        for t in range(m):
            if mode == COPY:
                for c in range(channels):
                    buf[b, slot + t, c] = src[b, t, c]
            elif mode == RELU:
                for c in range(channels):
                    buf[b, slot + t, c] = max(src[b, t, c], zero)
            elif mode == ADD:
                for c in range(channels):
                    buf[b, slot + t, c] = src[b, t, c] + residual[b, t, c]
            else:
                for c in range(channels):
                    buf[b, slot + t, c] = max(max(src[b, t, c], zero) + residual[b, t, c],
                                              zero)
            for k in range(taps):
                start = slot + t - span + k * dilation
                for c in range(channels):
                    col[b, t, k * channels + c] = buf[b, start, c]


@njit(cache=True, nogil=True)
def gather_tm(buf, slot, m, span, dilation, taps, col):
    """The im2col rows of ``store_and_gather_tm`` alone, for samples already in the slot:
    ``col[b, t, k * C + c] = buf[b, slot - span + k * dilation + t, c]``, ``t < m``."""
    batch, _, channels = buf.shape
    for b in range(batch):
        for t in range(m):
            for k in range(taps):
                start = slot + t - span + k * dilation
                for c in range(channels):
                    col[b, t, k * channels + c] = buf[b, start, c]


# Winograd F(2, 3) for a causal conv of 3 taps at dilation d (Lavin & Gray 2016, "Fast
# algorithms for convolutional neural networks"): the outputs at times n and n + d share
# the four inputs p_k = x[n - 2d + k d], k = 0..3, and with the tap matrices g_0, g_1, g_2
#     y[n]     = m_0 + m_1 + m_2,    m_0 = (p_0 - p_2) g_0,  m_1 = (p_1 + p_2)(g_0 + g_1 + g_2) / 2
#     y[n + d] = m_1 - m_2 - m_3,    m_2 = (p_2 - p_1)(g_0 - g_1 + g_2) / 2,  m_3 = (p_1 - p_3) g_2
# four products on half the rows each: 2 C_in C_out multiplies per output instead of 3.
# Times pair up within tiles of 2d samples: (2dq + r, 2dq + r + d) for r < d.


@njit(cache=True, nogil=True)
def winograd_gather(buf, slot, dilation, u):
    """The four Winograd inputs of a chunk of ``m`` samples from a time-major history.

    With ``p_k = buf[b, slot - 2d + 2dq + r + k d]`` (``d = dilation``, tile ``q``, ``r < d``),
    row ``i = q d + r`` of ``u`` gets ``u[0] = p_0 - p_2``, ``u[1] = p_1 + p_2``,
    ``u[2] = p_2 - p_1``, ``u[3] = p_1 - p_3``.

    Shape: ``buf`` ``(B, capacity, C)`` with ``2d <= slot`` and ``slot + m <= capacity``;
    ``u`` ``(4, B, m // 2, C)`` with ``m`` a multiple of ``2d``.
    """
    _, batch, half, channels = u.shape
    d = dilation
    for b in range(batch):
        for q in range(half // d):
            for r in range(d):
                i, t = q * d + r, slot - 2 * d + 2 * d * q + r
                for c in range(channels):
                    p1, p2 = buf[b, t + d, c], buf[b, t + 2 * d, c]
                    u[0, b, i, c] = buf[b, t, c] - p2
                    u[1, b, i, c] = p1 + p2
                    u[2, b, i, c] = p2 - p1
                    u[3, b, i, c] = p1 - buf[b, t + 3 * d, c]


@njit(cache=True, nogil=True)
def winograd_store(prods, bias, dilation, residual, mode, buf, slot):
    """The Winograd outputs plus ``bias``, activated by ``mode``, into a history slot.

    ``y[2dq + r] = m_0 + m_1 + m_2 + bias`` and ``y[2dq + r + d] = m_1 - m_2 - m_3 + bias``
    with ``m_k = prods[k, b, q d + r]``; then ``buf[b, slot + t] = act(y[t])`` as in
    ``store_and_gather`` (``residual`` is read by ``RELU_RESIDUAL_RELU`` and ``ADD`` only).

    Shape: ``prods`` ``(4, B, m // 2, C)``; ``bias`` ``(C,)``; ``residual`` ``(B, m, C)``;
    ``buf`` ``(B, capacity, C)`` with ``slot + m <= capacity``.
    """
    _, batch, half, channels = prods.shape
    d = dilation
    zero = buf.dtype.type(0)
    for b in range(batch):
        for q in range(half // d):
            for r in range(d):
                i, t = q * d + r, 2 * d * q + r
                t0, t1 = slot + t, slot + t + d  # the pair of output times in buf
                if mode == COPY:
                    for c in range(channels):
                        m1, m2 = prods[1, b, i, c], prods[2, b, i, c]
                        buf[b, t0, c] = prods[0, b, i, c] + m1 + m2 + bias[c]
                        buf[b, t1, c] = m1 - m2 - prods[3, b, i, c] + bias[c]
                elif mode == RELU:
                    for c in range(channels):
                        m1, m2 = prods[1, b, i, c], prods[2, b, i, c]
                        buf[b, t0, c] = max(prods[0, b, i, c] + m1 + m2 + bias[c], zero)
                        buf[b, t1, c] = max(m1 - m2 - prods[3, b, i, c] + bias[c], zero)
                elif mode == ADD:
                    for c in range(channels):
                        m1, m2 = prods[1, b, i, c], prods[2, b, i, c]
                        y0 = prods[0, b, i, c] + m1 + m2 + bias[c]
                        y1 = m1 - m2 - prods[3, b, i, c] + bias[c]
                        buf[b, t0, c] = y0 + residual[b, t, c]
                        buf[b, t1, c] = y1 + residual[b, t + d, c]
                else:
                    for c in range(channels):
                        m1, m2 = prods[1, b, i, c], prods[2, b, i, c]
                        y0 = max(prods[0, b, i, c] + m1 + m2 + bias[c], zero)
                        y1 = max(m1 - m2 - prods[3, b, i, c] + bias[c], zero)
                        buf[b, t0, c] = max(y0 + residual[b, t, c], zero)
                        buf[b, t1, c] = max(y1 + residual[b, t + d, c], zero)
