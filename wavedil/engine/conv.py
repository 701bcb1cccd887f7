"""The 1-D dilated convolution engine in numpy: offline call, stream and functional twin.

``DilatedConv1d`` computes what ``torch.nn.functional.conv1d`` computes (a
cross-correlation) with the PyTorch weight layout ``(C_out, C_in // groups, K)``. In causal
alignment tap ``K-1`` multiplies the newest sample::

    y[n] = b + sum_t w[t] x[n - d (K-1-t)]

Other alignments shift the window by ``right`` samples of lookahead (see ``wavedil.engine.spec``).
Before the start the input is zero (``boundary="zero"``) or its first sample
(``boundary="edge"``); after the end, zero or its last sample.

The offline call is the first chunk of a fresh stream plus its flush: one code path serves
both, so they agree by construction and the tests check it against torch.

A stream takes one of four paths per chunk, each tested against torch: a depthwise layer
runs the compiled per-tap loop (``wavedil.engine.depthwise``); otherwise, once the history is full,
a chunk of one sample is one matrix-vector product on its strided taps (cost independent of
the dilation), a short chunk is one compiled pass that writes it into the history and fills
the im2col block (``wavedil.engine._jit.stream``) then one matrix product, and a long chunk is
read in place, in im2col blocks of ``IM2COL_BYTES``.

Shape: ``(T,)`` (one channel), ``(C_in, T)`` or ``(B, C_in, T)`` in; the same layout with
``C_out`` channels out (``(T,)`` stays ``(T,)`` when ``C_out == 1``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from .checks import as_float_array, check_finite, positive_int
from .depthwise import depthwise_correlate
from .finite import as_signal
from .history import History
from .memory import kept_block, scratch
from .params import check_budget, flag
from .spec import LayerSpec, resolve_alignment
from .state import ArraySpec, history_spec
from .stream import Layout, Stream

BOUNDARIES = ("zero", "edge")
IM2COL_BYTES = 2 << 20  # bytes per im2col block: cache-sized (a 2048-sample block of 64 x 3 rows)
LONG_CHUNK = 1024  # chunks from this length on are convolved in place, not via the history


class _Weights(NamedTuple):
    """A layer's weight in one dtype, laid out for each path of ``correlate_valid``."""

    taps: np.ndarray | None  # depthwise: (C, K)
    stacked: np.ndarray | None  # (g, C_out/g, C_in/g * K): column c * K + t is tap t of c
    im2col: np.ndarray | None  # stacked with the bias as a last column (if any)
    bias: np.ndarray | None  # (C_out, 1)


class DilatedConv1d:
    """A dilated 1-D convolution layer (cross-correlation, PyTorch weight layout).

    Args:
        weight: ``(C_out, C_in // groups, K)``.
        bias: ``(C_out,)`` or None.
        dilation: spacing between taps (>= 1).
        groups: channel groups, as in ``torch.nn.Conv1d``.
        alignment: ``"causal"``, ``"centered"`` or ``(left, right)`` with
            ``left + right == (K - 1) * dilation``.
        boundary: ``"zero"`` or ``"edge"`` (what lies before the start and after the end).
    """

    def __init__(self, weight: npt.ArrayLike, bias: npt.ArrayLike | None = None,
                 dilation: int = 1, groups: int = 1,
                 alignment: str | tuple[int, int] = "causal", boundary: str = "zero") -> None:
        weight = as_float_array(weight, "weight")
        if weight.ndim != 3 or weight.size == 0:
            raise ValueError(f"weight must be (C_out, C_in // groups, K) and non-empty, "
                             f"got shape {weight.shape}")
        check_finite(weight, "weight")
        self.dilation = positive_int(dilation, "dilation")
        self.groups = positive_int(groups, "groups")
        c_out, c_in_group, k = weight.shape
        span = (k - 1) * self.dilation
        check_budget(8.0 * 2 * span * c_in_group * self.groups,  # a stream's History
                     f"DilatedConv1d with dilation={self.dilation}, kernel_size={k} and "
                     f"groups={self.groups}: a history of (K - 1) * dilation = {span} samples "
                     f"(and room for as many) x {c_in_group * self.groups} input channel(s) "
                     f"in float64",
                     "use a smaller dilation")
        if c_out % self.groups:
            raise ValueError(f"C_out = {c_out} is not divisible by groups = {self.groups}")
        if bias is not None:
            bias = as_float_array(bias, "bias")
            if bias.shape != (c_out,):
                raise ValueError(f"bias must have shape ({c_out},), got {bias.shape}")
            check_finite(bias, "bias")
        if boundary not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
        self.weight = weight
        self.bias = bias
        self.boundary = boundary
        self.left, self.right = resolve_alignment(alignment, (k - 1) * self.dilation)
        self._weights: dict[np.dtype, _Weights] = {}

    @property
    def in_channels(self) -> int:
        """C_in: ``weight.shape[1] * groups``."""
        return self.weight.shape[1] * self.groups

    @property
    def depthwise(self) -> bool:  # one filter per channel
        """Whether every channel has one filter of its own (``groups == C_in == C_out``)."""
        return self.weight.shape[1] == 1 and self.weight.shape[0] == self.groups

    @property
    def out_channels(self) -> int:
        """C_out: ``weight.shape[0]``."""
        return self.weight.shape[0]

    @property
    def kernel_size(self) -> int:
        """K: the taps of each filter."""
        return self.weight.shape[2]

    @property
    def latency(self) -> int:
        """Samples a stream holds back: the lookahead ``right`` (0 when causal)."""
        return self.right

    @property
    def span(self) -> int:
        """``(K - 1) * dilation``: the samples of context around each output."""
        return (self.kernel_size - 1) * self.dilation

    @property
    def spec(self) -> LayerSpec:
        """This layer's ``LayerSpec`` (kernel, dilation, extent) for receptive fields."""
        return (LayerSpec(self.kernel_size, self.dilation, 1, self.left, self.right,
                          self.in_channels, self.out_channels, self.groups, "DilatedConv1d"))

    def __call__(self, x) -> np.ndarray:
        """Offline: the whole signal at once (see the module docstring for shapes)."""
        stream = self.stream()
        y = stream.process(as_signal(x, "x"))
        tail = stream.flush()
        return np.concatenate([y, tail], axis=-1) if tail.shape[-1] else y

    def stream(self, batch: int | None = None) -> ConvStream:
        """A fresh stream of this layer; ``batch`` fixes the batch size (3-D chunks)."""
        return ConvStream(self, batch)

    def __repr__(self) -> str:
        return (f"DilatedConv1d({self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"groups={self.groups}, extent=({self.left}, {self.right}))")

    def correlate_valid(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Valid dilated cross-correlation of ``(B, C_in, n)``: ``(B, C_out, n - span)``.

        Written into ``out`` when given (any ``(B, C_out, n - span)`` view with unit stride
        in time). Paths: a depthwise layer, a multiply-add per tap (``wavedil.engine.depthwise``);
        one output (chunk size 1), one matrix-vector product on ``x[..., ::d]``; more,
        im2col in cache-sized blocks of ``C_in/g * K`` shifted rows, one product per block
        with the bias folded in as a row of ones.
        """
        c_out, c_in_group, k = self.weight.shape
        d, g = self.dilation, self.groups
        batch, _, n = x.shape
        n_out = n - (k - 1) * d
        if n_out <= 0:
            return np.empty((batch, c_out, 0), x.dtype) if out is None else out
        w = self._cast(x.dtype)
        if w.taps is not None:
            y = depthwise_correlate(x, w.taps, d, n_out, out=out)
            if w.bias is not None:
                y += w.bias
            return y
        if n_out == 1:  # chunk size 1: one matrix-vector product
            y = self._single_output(x, w)
            if out is None:
                return y
            out[...] = y
            return out
        if out is None:
            out = np.empty((batch, c_out, n_out), x.dtype)
        im2col = w.im2col
        assert im2col is not None  # not depthwise
        self._im2col_matmul(x.reshape(batch, g, c_in_group, n), im2col, out)
        return out

    def _single_output(self, x: np.ndarray, w: _Weights) -> np.ndarray:
        """The one output of a window of ``span + 1`` samples: its K taps are ``x[..., ::d]``.

        A strided slice, so the cost is K samples per channel whatever the dilation (numpy's
        ``take`` would first copy a non-contiguous window whole).
        """
        batch, channels, _ = x.shape
        taps = x[..., :: self.dilation]
        stacked = w.stacked
        assert stacked is not None  # not depthwise
        if batch == 1 and self.groups == 1:  # 2-D: the fewest numpy calls
            y = np.dot(stacked[0], taps[0].reshape(-1))
            if w.bias is not None:
                y += w.bias[:, 0]
            return y.reshape(1, -1, 1)
        y = np.matmul(stacked, taps.reshape(batch, self.groups, -1, 1))
        if w.bias is not None:
            y += w.bias.reshape(self.groups, -1, 1)
        return y.reshape(batch, self.out_channels, 1)

    def _im2col_matmul(self, x: np.ndarray, im2col: np.ndarray, out: np.ndarray) -> None:
        """``out`` (``(B, C_out, n_out)``) from ``x`` (``(B, g, C_in/g, n)``) in im2col blocks.

        Row ``c * K + t`` of a block holds channel ``c`` shifted by tap ``t``; a block holds
        about ``IM2COL_BYTES``, so it stays in cache between its copy and its product.
        """
        batch, g, c_in_group, _ = x.shape
        k, d = self.kernel_size, self.dilation
        n_out = out.shape[-1]
        rows = im2col.shape[-1]
        block = min(n_out, max(64, IM2COL_BYTES // (batch * g * rows * x.itemsize)))
        col = scratch((batch, g, rows, block), x.dtype)
        if rows > c_in_group * k:
            col[..., -1, :] = 1  # the bias row
        shifted = col[:, :, : c_in_group * k].reshape(batch, g, c_in_group, k, block)
        out = out.reshape(batch, g, out.shape[1] // g, n_out)
        for start in range(0, n_out, block):
            m = min(block, n_out - start)
            for t in range(k):
                shifted[..., t, :m] = x[..., start + t * d : start + t * d + m]
            np.matmul(im2col, col[..., :m], out=out[..., start : start + m])

    def _cast(self, dtype: np.dtype) -> _Weights:
        """The weight in ``dtype``, laid out for each path (cast once per dtype)."""
        if dtype not in self._weights:
            g, (c_out, c_in_group, k) = self.groups, self.weight.shape
            w = self.weight.astype(dtype)
            bias = None if self.bias is None else self.bias.astype(dtype)[:, None]
            if self.depthwise:
                taps = np.ascontiguousarray(w[:, 0, :])  # (C, K)
                self._weights[dtype] = _Weights(taps, None, None, bias)
            else:
                stacked = np.ascontiguousarray(w.reshape(g, c_out // g, c_in_group * k))
                im2col = stacked if bias is None else np.ascontiguousarray(
                    np.concatenate([stacked, bias.reshape(g, c_out // g, 1)], -1))
                self._weights[dtype] = _Weights(None, stacked, im2col, bias)
        return self._weights[dtype]


@dataclass
class ConvState:
    """A conv stream's memory: its last ``span`` input samples (None before the first one,
    which an ``edge`` boundary repeats to the left)."""

    history: History | None = None


class _DenseWeights(NamedTuple):
    """``_Weights`` of a layer that is not depthwise (what the compiled path reads)."""

    stacked: np.ndarray
    im2col: np.ndarray
    bias: np.ndarray | None


class ConvStream(Stream):
    """Stream of a ``DilatedConv1d``: a history of ``span`` samples, latency ``right``."""

    state: ConvState
    # the compiled path (set by _start): (kernel, copy, weights, span, dilation, taps)
    _compiled: tuple[Any, Any, _DenseWeights, int, int, int]
    _vector: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # chunk size 1: vector, taps, w
    _col_key: tuple[int, int, int] | None  # the im2col block's (batch, m, thread)
    _col: np.ndarray

    def __init__(self, layer: DilatedConv1d, batch: int | None = None) -> None:
        super().__init__(layer.in_channels, layer.out_channels, layer.right, batch)
        self.layer = layer
        self._long = max(4 * layer.span, LONG_CHUNK)  # chunks from here on are read in place
        # one group, not depthwise: short chunks may take the compiled path
        self._fused = layer.groups == 1 and not layer.depthwise

    def __repr__(self) -> str:
        return f"ConvStream({self.layer!r}, latency={self.latency}, batch={self.batch})"

    def config(self) -> dict:
        layer = self.layer
        return {"op": "DilatedConv1d", "in_channels": layer.in_channels,
                "kernel_size": layer.kernel_size, "dilation": layer.dilation,
                "extent": [layer.left, layer.right], "boundary": layer.boundary}

    def new_state(self, batch: int, dtype: np.dtype) -> ConvState:
        return ConvState()

    def step(self, x: np.ndarray) -> np.ndarray:
        history = self.state.history
        if history is None:
            if x.shape[-1] == 0:
                return np.zeros((x.shape[0], self.out_channels, 0), x.dtype)
            history = self._start(x)
        m = x.shape[-1]
        if m < self._long:
            if m and self._fused and len(history) == self.layer.span:
                return self._process_one(x, history) if m == 1 else \
                    self._process_fused(x, history)
            return self.layer.correlate_valid(history.append(x))
        span = self.layer.span
        # A long chunk is read in place: only the outputs that reach into the history see a
        # copy (history + the chunk's first span samples); then the history is its tail.
        past = history.recent()
        out = np.empty((x.shape[0], self.out_channels, past.shape[-1] + m - span), x.dtype)
        if past.shape[-1]:
            head = np.concatenate([past, x[..., :span]], axis=-1)
            self.layer.correlate_valid(head, out=out[..., : past.shape[-1]])
        self.layer.correlate_valid(x, out=out[..., past.shape[-1] :])
        history.load(x[..., m - span :])
        return out

    def _process_one(self, x: np.ndarray, history: History) -> np.ndarray:
        """Chunk size 1, once the history is full: the K taps of every channel (a strided
        slice, whatever the dilation) go into a vector ending in a 1 for the bias, then
        one matrix-vector product."""
        _, _, w, span, dilation, _ = self._compiled
        batch = x.shape[0]
        if self._vector is None or len(self._vector[0]) != batch:
            vector = np.ones((batch, w.im2col.shape[-1]), x.dtype)  # (B, C_in K [+ 1])
            taps = vector[:, : w.stacked.shape[-1]].reshape(batch, self.in_channels, -1)
            self._vector = vector, taps, w.im2col[0]
        vector, taps, weight = self._vector
        slot = history.reserve(1)
        buffer = history.buffer
        buffer[..., slot : slot + 1] = x
        taps[...] = buffer[..., slot - span : slot + 1 : dilation]
        if batch == 1:
            return np.dot(weight, vector[0]).reshape(1, -1, 1)
        return np.matmul(vector, weight.T)[..., None]

    def _process_fused(self, x: np.ndarray, history: History) -> np.ndarray:
        """A short chunk, once the history is full: one compiled pass writes the chunk into
        the history and fills the im2col block (``store_and_gather``), then one product."""
        kernel, copy, w, span, dilation, taps = self._compiled
        x = np.ascontiguousarray(x)  # the kernel's loops vectorise on contiguous rows
        batch, _, m = x.shape
        key = (batch, m, threading.get_ident())  # the block is this thread's
        if self._col_key != key:
            self._col_key = key
            self._col = kept_block((batch, 1, w.im2col.shape[-1], m), x.dtype,
                                      w.bias is not None)
        col = self._col
        slot = history.reserve(m)
        kernel(x, x, copy, history.buffer, slot, span, dilation, taps, col[:, 0])
        return np.matmul(w.im2col, col).reshape(batch, self.out_channels, m)

    def _start(self, x: np.ndarray, history: np.ndarray | None = None) -> History:
        """The history, filled with ``history`` or the left boundary of chunk ``x``."""
        kept = self.state.history = History(x.shape[:2], self.layer.span, x.dtype)
        self._col_key = self._vector = None  # scratch of the compiled path, per chunk shape
        if self._fused:
            from ._jit.stream import COPY, store_and_gather  # numba, on first use

            layer = self.layer
            w = layer._cast(x.dtype)
            assert w.stacked is not None and w.im2col is not None  # one group, not depthwise
            self._compiled = (store_and_gather, COPY, _DenseWeights(w.stacked, w.im2col, w.bias),
                              layer.span, layer.dilation, layer.kernel_size)
        if history is None:  # the left boundary
            left = self.layer.left
            fill = np.repeat(x[..., :1], left, -1) if self.layer.boundary == "edge" else \
                np.zeros(x.shape[:2] + (left,), x.dtype)
            history = fill
        kept.load(history)
        return kept

    def finish(self) -> np.ndarray:
        layout, history = self.layout, self.state.history
        assert layout is not None
        if history is None or self.layer.right == 0:
            return np.zeros((layout.batch, self.out_channels, 0), layout.dtype)
        recent = history.recent()
        shape = recent.shape[:2] + (self.layer.right,)
        pad = np.broadcast_to(recent[..., -1:], shape) if self.layer.boundary == "edge" else \
            np.zeros(shape, layout.dtype)
        return self.layer.correlate_valid(history.append(pad))

    def export_state(self) -> dict[str, np.ndarray]:
        if self.state is None or self.state.history is None:
            return {}
        return {"history": self.state.history.recent().copy()}

    def state_spec(self, layout: Layout) -> dict[str, ArraySpec | None]:
        """``history``: the last ``n`` inputs, ``left <= n <= span`` (the left boundary, then
        every sample seen), once a chunk with samples arrived."""
        layer = self.layer
        return {"history": history_spec(layout.batch, self.in_channels, layer.span,
                                        layout.dtype, shortest=layer.left)}

    def import_state(self, arrays: Mapping[str, Any], batch: int, dtype: np.dtype) -> None:
        if "history" not in arrays:
            return
        history = checked_history(arrays["history"], "history", dtype,
                                  (batch, self.in_channels, self.layer.span))
        self._start(history, history)



def checked_history(history: npt.ArrayLike, name: str, dtype: npt.DTypeLike,
                    most: tuple[int, int, int]) -> np.ndarray:
    """A saved history ``(B, C_in, n)`` of ``dtype`` with ``n <= span`` (``most`` is
    ``(B, C_in, span)``), or a ValueError that quotes both shapes."""
    history = np.asarray(history)
    if history.dtype != dtype or history.ndim != 3 or history.shape[:2] != most[:2] or \
            history.shape[2] > most[2]:
        raise ValueError(f"state '{name}' must be {dtype} of shape {most} at most, got "
                         f"{history.dtype} {history.shape}")
    return history


def conv1d(x: npt.ArrayLike, weight: npt.ArrayLike, bias: npt.ArrayLike | None = None,
           dilation: int = 1, groups: int = 1, alignment: str | tuple[int, int] = "causal",
           boundary: str = "zero", state: Mapping[str, Any] | None = None,
           final: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Functional twin of ``DilatedConv1d(...).stream()``, in the ``lfilter(zi=)`` style.

    Returns ``(y, state)``: ``y`` is what the stream returns for ``x`` (plus its flush when
    ``final``), ``state`` the stream's ``state_dict`` to pass to the next call.

    >>> import numpy as np
    >>> w = np.array([[[1.0, 1.0]]])
    >>> y1, s = conv1d(np.array([1.0, 2.0]), w, dilation=1)
    >>> y2, s = conv1d(np.array([3.0]), w, state=s)
    >>> np.concatenate([y1, y2])
    array([1., 3., 5.])
    """
    final = flag(final, "final")
    stream = DilatedConv1d(weight, bias, dilation, groups, alignment, boundary).stream()
    if state is not None:
        stream.load_state_dict(state)
    y = stream.process(as_signal(x, "x"))
    if final:
        y = np.concatenate([y, stream.flush()], axis=-1)
    return y, stream.state_dict()
