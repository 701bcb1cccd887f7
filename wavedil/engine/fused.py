"""The fused, time-major chain of dilated convs that the TCN and WaveNet streams run.

Inside the chain every signal is time-major, ``(B, T, C)``. A conv computes its chunk of
``m`` outputs in one of two ways, chosen per chunk size (``FusedConv.uses_winograd``):

- **im2col**: the matrix product ``col @ weight`` of its im2col block ``col``
  ``(B, m, K * C_in + 1)`` (a last column of ones for the bias) with its weight
  ``(K * C_in + 1, C_out)``. numpy's BLAS ran this product 12-20 % faster than the
  channel-major ``weight @ col`` at 128-2048 samples (25.0 vs 22.0 us at 128, 347 vs 279 us
  at 2048, for 64 -> 64 channels and K = 3).
- **Winograd F(2, 3)** (3 taps, chunks of at least ``WINOGRAD_MIN_SAMPLES`` samples in
  whole tiles of ``2 * dilation``): four products ``u[k] @ g[k]`` on half the rows each,
  two thirds of the multiplies (formulas in ``wavedil.engine._jit.stream``). The products of
  a 2048-sample chunk, 64 -> 64 channels, took 192-225 us against 268-283 us for im2col.

Between two products compiled passes (``wavedil.engine._jit.stream``) apply the activation
and the residual sum, write the result into the next conv's history and gather that conv's
inputs (its im2col rows or its four Winograd inputs); a plain product followed by an
im2col conv takes one pass (``store_and_gather_tm``).

Histories are time-major ``History`` buffers (``(B, T, C_in)``); a stream's state keeps the
engine's channel-major layout ``(B, C_in, n)``, so states do not depend on the path.
``FusedChain`` holds a model's convs by parameter name, with their histories, input blocks
and state; ``time_major_1x1`` and ``pointwise_tm`` are the 1x1 convs between them.

Shape: ``FusedConv.store`` takes a product of ``m`` samples (``(B, m, C_in)``, or Winograd
products ``(4, B, m // 2, C_in)``) and fills the conv's inputs for ``m`` samples.
"""

from __future__ import annotations

from types import ModuleType
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from .conv import DilatedConv1d, checked_history
from .history import History

# Shorter chunks keep the one-pass im2col path. The TCN of the benchmark (64 channels,
# dilations 1..256) streamed chunks of 128 in 559-578 us per call with Winograd against
# 655-685 us without, chunks of 32 in 205-207 against 212-214 us.
WINOGRAD_MIN_SAMPLES = 32


class WinogradProducts(NamedTuple):
    """A conv's four Winograd products ``(4, B, m // 2, C_out)``, before the output
    transform (which adds ``bias``)."""

    prods: np.ndarray
    bias: np.ndarray
    dilation: int


class FusedConv:
    """One causal dilated conv of the chain: its time-major weights and history."""

    __slots__ = ("layer", "weight", "winograd", "bias", "span", "dilation", "taps", "history")

    def __init__(self, layer: DilatedConv1d, dtype: npt.DTypeLike) -> None:
        if layer.groups != 1 or layer.left != layer.span or layer.boundary != "zero":
            raise ValueError(f"the fused chain takes causal, zero-boundary convs with "
                             f"groups 1, got {layer!r}")
        c_out, c_in, k = layer.weight.shape
        taps = layer.weight.astype(dtype).transpose(2, 1, 0)  # (K, C_in, C_out)
        weight = taps.reshape(k * c_in, c_out)
        self.bias = np.zeros(c_out, dtype) if layer.bias is None else layer.bias.astype(dtype)
        if layer.bias is not None:  # the bias as a last row, against the column of ones
            weight = np.concatenate([weight, self.bias[None]])
        self.layer, self.weight = layer, np.ascontiguousarray(weight)  # row t * C_in + c
        self.winograd = None
        if k == 3:  # g_0, (g_0 + g_1 + g_2) / 2, (g_0 - g_1 + g_2) / 2, g_2, summed in the
            g0, g1, g2 = layer.weight.transpose(2, 1, 0)  # weights' own precision
            self.winograd = np.ascontiguousarray(
                np.stack([g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2]), dtype)
        self.span, self.dilation, self.taps = layer.span, layer.dilation, k
        self.history = None

    def uses_winograd(self, m: int) -> bool:
        """Whether chunks of ``m`` samples run Winograd F(2, 3) (else im2col)."""
        return (self.winograd is not None and m >= WINOGRAD_MIN_SAMPLES
                and m % (2 * self.dilation) == 0)

    def start(self, batch: int, dtype: npt.DTypeLike, past: np.ndarray | None = None) -> None:
        """A fresh history: ``past`` (``(B, C_in, n)``, engine layout) or ``span`` zeros."""
        c_in = self.layer.in_channels
        self.history = History((batch,), self.span, dtype, trailing_shape=(c_in,))
        if past is None:
            past = np.zeros((batch, c_in, self.span), dtype)
        self.history.load(past.transpose(0, 2, 1))

    def store(self, kernels: ModuleType, product: np.ndarray | WinogradProducts,
              residual: np.ndarray | None, mode: int, inputs: np.ndarray) -> np.ndarray:
        """``act(product)`` into the history, then this conv's inputs into ``inputs`` (its
        ``inputs_block``); ``kernels`` is ``wavedil.engine._jit.stream``. Returns a view of
        what was stored, ``(B, m, C_in)``."""
        m = inputs.shape[1] if inputs.ndim == 3 else 2 * inputs.shape[2]
        history = self.history
        slot = history.reserve(m)
        buffer = history.buffer
        residual = buffer if residual is None else residual  # read in the residual mode only
        if inputs.ndim == 3 and not isinstance(product, WinogradProducts):  # one pass
            kernels.store_and_gather_tm(product, residual, mode, buffer, slot, self.span,
                                        self.dilation, self.taps, inputs)
            return buffer[:, slot : slot + m]
        store_product(kernels, product, residual, mode, buffer, slot)
        if inputs.ndim == 3:
            kernels.gather_tm(buffer, slot, m, self.span, self.dilation, self.taps, inputs)
        else:
            kernels.winograd_gather(buffer, slot, self.dilation, inputs)
        return buffer[:, slot : slot + m]

    def product(self, inputs: np.ndarray) -> np.ndarray | WinogradProducts:
        """The conv's output for the inputs ``store`` gathered: ``(B, m, C_out)``, or its
        ``WinogradProducts``."""
        if inputs.ndim == 3:
            return np.matmul(inputs, self.weight)
        four, batch, half, c_in = inputs.shape
        prods = np.matmul(inputs.reshape(four, batch * half, c_in), self.winograd)
        return WinogradProducts(prods.reshape(four, batch, half, -1), self.bias, self.dilation)

    def state(self) -> np.ndarray:
        """The kept past in the engine's layout, ``(B, C_in, n)``."""
        return self.history.recent().transpose(0, 2, 1).copy()

    def inputs_block(self, batch: int, m: int, dtype: npt.DTypeLike) -> np.ndarray:
        """A fresh block for this conv's inputs of ``m`` samples: Winograd's
        ``(4, B, m // 2, C_in)``, or an im2col ``(B, m, K * C_in [+ 1])`` with its bias
        column set to ones."""
        if self.uses_winograd(m):
            return np.empty((4, batch, m // 2, self.layer.in_channels), dtype)
        col = np.empty((batch, m, self.weight.shape[0]), dtype)
        if self.layer.bias is not None:
            col[..., -1] = 1
        return col


def compiled_passes() -> ModuleType:
    """The module of compiled passes between the products (numba, imported on first use)."""
    from ._jit import stream

    return stream


def store_product(kernels: ModuleType, product: np.ndarray | WinogradProducts,
                  residual: np.ndarray | None, mode: int, out: np.ndarray, slot: int) -> None:
    """``out[:, slot : slot + m] = act(product)`` (``mode`` and ``residual`` as in
    ``store_and_gather_tm``), for a plain or a Winograd product."""
    if isinstance(product, WinogradProducts):
        kernels.winograd_store(product.prods, product.bias, product.dilation, residual, mode,
                               out, slot)
    else:
        kernels.store_and_gather_tm(product, residual, mode, out, slot, 0, 0, 0, out)


class FusedChain:
    """The fused convs of a model's stream by parameter name: their histories, their
    input blocks, and the stream's state in the engine's layout (``{name}.history``)."""

    def __init__(self, convs: dict[str, FusedConv]) -> None:
        self.convs = convs
        self._blocks = None  # ((batch, m), {name: block})

    @property
    def started(self) -> bool:
        return next(iter(self.convs.values())).history is not None

    def start(self, batch: int, dtype: npt.DTypeLike) -> None:
        for conv in self.convs.values():
            conv.start(batch, dtype)

    def inputs_blocks(self, batch: int, m: int, dtype: npt.DTypeLike) -> dict[str, np.ndarray]:
        """Each conv's input block (im2col or Winograd) for chunks of ``m``, kept between
        chunks of one size; convs of one shape and path share theirs (a conv's block is
        read by its product before the next conv's ``store`` fills it again)."""
        if self._blocks is None or self._blocks[0] != (batch, m):
            shared, blocks = {}, {}
            for name, conv in self.convs.items():
                key = conv.weight.shape + (conv.uses_winograd(m),)
                if key not in shared:
                    shared[key] = conv.inputs_block(batch, m, dtype)
                blocks[name] = shared[key]
            self._blocks = ((batch, m), blocks)
        return self._blocks[1]

    def state(self) -> dict[str, np.ndarray]:
        return {f"{name}.history": conv.state() for name, conv in self.convs.items()}

    def load(self, state: dict, batch: int, dtype: npt.DTypeLike) -> None:
        """Start every history from ``state`` (zeros where a key is absent)."""
        for name, conv in self.convs.items():
            key = f"{name}.history"
            past = state.get(key)
            if past is not None:
                past = checked_history(past, key, dtype,
                                       (batch, conv.layer.in_channels, conv.span))
            conv.start(batch, dtype, past)

    def reset(self) -> None:
        for conv in self.convs.values():
            conv.history = None


def time_major_1x1(w: dict, name: str, scale: float = 1.0
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """A 1x1 conv's ``(C_in, C_out)`` weight and ``(C_out,)`` bias from the cast weights
    ``w`` (``(C_out, C_in)`` and ``(C_out, 1)``), times ``scale``; None if absent."""
    if name + ".weight" not in w:
        return None
    return (np.ascontiguousarray(w[name + ".weight"].T * scale),
            w[name + ".bias"][:, 0] * scale)


def pointwise_tm(conv: tuple[np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    """A 1x1 conv (``time_major_1x1``) on a time-major ``(B, m, C_in)`` signal:
    ``(B, m, C_out)``."""
    weight, bias = conv
    y = np.matmul(x, weight)
    y += bias
    return y
