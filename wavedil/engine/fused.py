"""The fused, time-major chain of dilated convs that the TCN and WaveNet streams run.

Inside the chain every signal is time-major, ``(B, T, C)``. A conv computes its chunk of
``m`` outputs in one of two ways, chosen per chunk size (``FusedConv.uses_winograd``):

- **im2col**: the matrix product ``col @ weight`` of its im2col block ``col``
  ``(B, m, K * C_in + 1)`` (a last column of ones for the bias) with its weight
  ``(K * C_in + 1, C_out)``: time-major because numpy's BLAS ran it faster than the
  channel-major ``weight @ col`` (benchmarks/RESULTS.md, "Measurements behind design
  choices").
- **Winograd F(2, 3)** (3 taps, chunks of at least ``WINOGRAD_MIN_SAMPLES`` samples in
  whole tiles of ``2 * dilation``): four products ``u[k] @ g[k]`` on half the rows each,
  two thirds of the multiplies (formulas in ``wavedil.engine._jit.stream``).

Between two products compiled passes (``wavedil.engine._jit.stream``) apply the activation
and the residual sum, write the result into the next conv's history and gather that conv's
inputs (its im2col rows or its four Winograd inputs); a plain product followed by an
im2col conv takes one pass (``store_and_gather_tm``).

Histories are time-major ``History`` buffers (``(B, T, C_in)``) that live in the model
stream's state, all in one ``TimeMajorArena`` (``ChainHistories``), which the compiled
short-chunk step (``wavedil.engine.blocks``) reads and writes too: ``FusedConv`` and
``FusedChain`` hold weights and scratch only, and take the histories as arguments (a fresh
set from ``FusedChain.new_state``). Exported states keep the
engine's channel-major layout ``(B, C_in, n)``, so states do not depend on the runtime.
``time_major_1x1`` and ``pointwise_tm`` are the 1x1 convs between the dilated ones.

Shape: ``FusedConv.store`` takes a product of ``m`` samples (``(B, m, C_in)``, or Winograd
products ``(4, B, m // 2, C_in)``) and fills the conv's inputs for ``m`` samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import NamedTuple, Union

import numpy as np
import numpy.typing as npt

from .checks import positive_int
from .conv import DilatedConv1d, checked_history
from .history import History, TimeMajorArena

# Shorter chunks keep the one-pass im2col path: below this Winograd's extra passes cost more
# than its saved multiplies (benchmarks/RESULTS.md, "Measurements behind design choices").
WINOGRAD_MIN_SAMPLES = 32


class WinogradProducts(NamedTuple):
    """A conv's four Winograd products ``(4, B, m // 2, C_out)``, before the output
    transform (which adds ``bias``)."""

    prods: np.ndarray
    bias: np.ndarray
    dilation: int


Product = Union[np.ndarray, WinogradProducts]  # what a conv's ``product`` returns


class FusedConv:
    """One causal dilated conv of the chain: its time-major weights (its history is the
    stream's, passed in), so one conv serves any number of streams."""

    __slots__ = ("layer", "weight", "winograd", "bias", "span", "dilation", "taps")

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
        self.winograd: np.ndarray | None = None
        if k == 3:  # g_0, (g_0 + g_1 + g_2) / 2, (g_0 - g_1 + g_2) / 2, g_2, summed in
            # float64 whatever the weights' dtype (a float32 model on float64 input stays
            # float64 throughout), then cast to the chunk's dtype
            g0, g1, g2 = layer.weight.astype(np.float64).transpose(2, 1, 0)
            self.winograd = np.ascontiguousarray(
                np.stack([g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2]), dtype)
        self.span, self.dilation, self.taps = layer.span, layer.dilation, k

    def __repr__(self) -> str:
        return f"FusedConv({self.layer!r}, dtype={self.weight.dtype})"

    def uses_winograd(self, m: int) -> bool:
        """Whether chunks of ``m`` samples run Winograd F(2, 3) (else im2col)."""
        return (self.winograd is not None and m >= WINOGRAD_MIN_SAMPLES
                and m % (2 * self.dilation) == 0)

    def store(self, kernels: ModuleType, history: History, product: Product,
              residual: np.ndarray | None, mode: int, inputs: np.ndarray,
              lag: int = 0) -> np.ndarray:
        """``act(product)`` into ``history``, then this conv's inputs into ``inputs`` (its
        ``inputs_block``); ``kernels`` is ``wavedil.engine._jit.stream``. Returns a view of
        what was stored, ``(B, m, C_in)``, or of the rows ``lag`` samples before it (at
        most ``span``: the history keeps them), valid until this history's next store."""
        m = inputs.shape[1] if inputs.ndim == 3 else 2 * inputs.shape[2]
        slot = history.reserve(m)
        buffer = history.buffer
        residual = buffer if residual is None else residual  # read in the residual mode only
        if inputs.ndim == 3 and not isinstance(product, WinogradProducts):  # one pass
            kernels.store_and_gather_tm(product, residual, mode, buffer, slot, self.span,
                                        self.dilation, self.taps, inputs)
            return buffer[:, slot - lag : slot - lag + m]
        store_product(kernels, product, residual, mode, buffer, slot)
        if inputs.ndim == 3:
            kernels.gather_tm(buffer, slot, m, self.span, self.dilation, self.taps, inputs)
        else:
            kernels.winograd_gather(buffer, slot, self.dilation, inputs)
        return buffer[:, slot - lag : slot - lag + m]

    def product(self, inputs: np.ndarray) -> Product:
        """The conv's output for the inputs ``store`` gathered: ``(B, m, C_out)``, or its
        ``WinogradProducts``."""
        if inputs.ndim == 3:
            return np.matmul(inputs, self.weight)
        four, batch, half, c_in = inputs.shape
        winograd = self.winograd
        assert winograd is not None  # a Winograd block: uses_winograd chose it
        prods = np.matmul(inputs.reshape(four, batch * half, c_in), winograd)
        return WinogradProducts(prods.reshape(four, batch, half, -1), self.bias, self.dilation)

    @staticmethod
    def export(history: History) -> np.ndarray:
        """The kept past of ``history`` in the engine's layout, ``(B, C_in, n)`` (a copy)."""
        return history.recent().transpose(0, 2, 1).copy()

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


def store_product(kernels: ModuleType, product: Product, residual: np.ndarray | None,
                  mode: int, out: np.ndarray, slot: int) -> None:
    """``out[:, slot : slot + m] = act(product)`` (``mode`` and ``residual`` as in
    ``store_and_gather_tm``), for a plain or a Winograd product."""
    if isinstance(product, WinogradProducts):
        kernels.winograd_store(product.prods, product.bias, product.dilation, residual, mode,
                               out, slot)
    else:
        kernels.store_and_gather_tm(product, residual, mode, out, slot, 0, 0, 0, out)


class ChainHistories(dict):
    """A chain's histories by conv name (``{name: History}``) and the ``TimeMajorArena``
    they all live in (``arena``), which the compiled step reads and writes."""

    def __init__(self, arena: TimeMajorArena, names: list[str]) -> None:
        super().__init__({name: arena[k] for k, name in enumerate(names)})
        self.arena = arena


class FusedChain:
    """A model's fused convs by parameter name and their shared input blocks; the
    histories are the stream's state (``new_state``, ``load``, ``export``), so a stream
    that is reset or loaded just gets a new set. They live in one ``TimeMajorArena`` whose
    regions take chunks of up to ``largest`` samples (the stream cuts longer ones)."""

    def __init__(self, convs: dict[str, FusedConv], largest: int) -> None:
        self.convs = convs
        self.largest = positive_int(largest, "largest")
        self._blocks: tuple[tuple[int, int], dict[str, np.ndarray]] | None = None

    def __repr__(self) -> str:
        return f"FusedChain({list(self.convs)}, largest={self.largest})"

    def new_state(self, batch: int, dtype: npt.DTypeLike) -> ChainHistories:
        """A fresh history (``span`` zeros) per conv, by name, in one arena."""
        convs = self.convs.values()
        arena = TimeMajorArena(batch, [c.span for c in convs],
                               [c.layer.in_channels for c in convs], self.largest, dtype)
        for k, conv in enumerate(convs):  # span samples of silence
            slot = arena[k].reserve(conv.span)
            arena[k].buffer[:, slot : slot + conv.span] = 0
        return ChainHistories(arena, list(self.convs))

    def load(self, arrays: Mapping[str, npt.ArrayLike], batch: int,
             dtype: npt.DTypeLike) -> ChainHistories:
        """The histories saved as ``{name}.history`` in ``arrays`` (engine layout, checked;
        zeros where a key is absent)."""
        histories = self.new_state(batch, dtype)
        for name, conv in self.convs.items():
            key = f"{name}.history"
            past = arrays.get(key)
            if past is not None:
                past = checked_history(past, key, dtype,
                                       (batch, conv.layer.in_channels, conv.span))
                silence = np.zeros(past.shape[:2] + (conv.span - past.shape[2],), dtype)
                # a causal conv's shorter past had zeros before it: the history stays full
                histories[name].load(np.concatenate([silence, past], -1).transpose(0, 2, 1))
        return histories

    def export(self, histories: dict[str, History]) -> dict[str, np.ndarray]:
        """``{name}.history``: each history in the engine's layout ``(B, C_in, n)``."""
        return {f"{name}.history": FusedConv.export(histories[name]) for name in self.convs}

    def inputs_blocks(self, batch: int, m: int, dtype: npt.DTypeLike) -> dict[str, np.ndarray]:
        """Each conv's input block (im2col or Winograd) for chunks of ``m``, kept between
        chunks of one size; convs of one shape, bias and path share theirs (a conv's block
        is read by its product before the next conv's ``store`` fills it again; its column
        of ones, set once, is never written by a conv of the same key)."""
        if self._blocks is None or self._blocks[0] != (batch, m):
            shared: dict[tuple, np.ndarray] = {}
            blocks = {}
            for name, conv in self.convs.items():
                key = conv.weight.shape + (conv.layer.bias is not None,
                                           conv.uses_winograd(m))
                if key not in shared:
                    shared[key] = conv.inputs_block(batch, m, dtype)
                blocks[name] = shared[key]
            self._blocks = ((batch, m), blocks)
        return self._blocks[1]


def residual_blocks(plan: list[tuple], x: np.ndarray,
                    head: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """A chunk ``x`` ``(B, C_in, m)`` through a TCN's residual blocks of fused convs,
    ``relu(relu(conv2(relu(conv1(u)))) + r)`` each, then the optional 1x1 ``head``
    (``time_major_1x1``); ``(B, C_out, m)`` out.

    ``plan``: per block ``(conv1, history1, inputs1, conv2, history2, inputs2, projection,
    lag, delay)``, the convs with their histories and input blocks (``inputs_blocks``), the
    residual's 1x1 ``projection`` or None, and its wait: ``r`` is the block input ``lag``
    rows back in ``history1`` (``lag <= span``), or, where ``delay`` (a ``History`` of
    ``lag`` rows) is given, the rows ``lag`` back after the new ones join it (0 and None for
    a causal TCN)."""
    kernels = compiled_passes()
    m = x.shape[-1]
    product: Product
    product = residual = np.ascontiguousarray(x.transpose(0, 2, 1))  # (B, m, C)
    mode = kernels.COPY  # the chunk enters the first history as it is
    for conv1, hist1, in1, conv2, hist2, in2, projection, lag, delay in plan:
        block_in = conv1.store(kernels, hist1, product, residual, mode, in1,
                               0 if delay is not None else lag)
        conv2.store(kernels, hist2, conv1.product(in1), None, kernels.RELU, in2)
        product, mode = conv2.product(in2), kernels.RELU_RESIDUAL_RELU  # relu(relu(h) + r)
        residual = block_in if projection is None else pointwise_tm(projection, block_in)
        if delay is not None:
            residual = delay.append(residual)[:, :m]
    out = np.empty(residual.shape[:2] + (conv2.layer.out_channels,), x.dtype)
    store_product(kernels, product, residual, mode, out, 0)  # activated, no history
    if head is not None:
        out = pointwise_tm(head, out)
    return np.ascontiguousarray(out.transpose(0, 2, 1))


def time_major_1x1(w: dict[str, np.ndarray], name: str,
                   scale: float = 1.0) -> tuple[np.ndarray, np.ndarray] | None:
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
