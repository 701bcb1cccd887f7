"""TCN in numpy: residual blocks of two dilated causal convs, offline and streaming.

After Bai, Kolter & Koltun (2018), as in locuslab/TCN: each block computes
``relu(x' + relu(conv2(relu(conv1(x)))))`` with ``x'`` = ``x`` or a 1x1 projection
(``downsample``) where the widths differ; an optional 1x1 ``head`` follows the last block.
``tcn_plan`` (the per-block widths and dilations) is shared with the torch twin
``wavedil.nn.TCN``; the machinery common to the numpy models is in ``wavedil.models.base``.

Shape: ``(T,)``, ``(C_in, T)`` or ``(B, C_in, T)`` in, the same layout with ``C_out``
channels out (``(T,)`` stays ``(T,)`` when ``C_out == 1``).

>>> import numpy as np
>>> tcn = TCN(1, [8, 8], kernel_size=3, out_channels=1, seed=0)
>>> x = np.random.default_rng(0).standard_normal(100).astype(np.float32)
>>> s = tcn.stream()
>>> y = np.concatenate([s.process(x[:37]), s.process(x[37:]), s.flush()])
>>> bool(np.allclose(y, tcn(x), rtol=0, atol=1e-6)), tcn.receptive_field
(True, 13)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..engine.blocks import ResidualChainStep
from ..engine.checks import positive_int
from ..engine.fused import (
    FusedChain,
    FusedConv,
    compiled_passes,
    pointwise_tm,
    store_product,
    time_major_1x1,
)
from ..engine.spec import Branches, Chain, LayerSpec, dilation_schedule
from .activations import relu
from .base import BLOCK, Model, ModelStream, _conv_spec

# chunks of up to this many samples run the compiled step (``wavedil.engine.blocks``);
# longer ones the BLAS products (benchmarks/RESULTS.md, "Measurements behind design choices")
STEP_SAMPLES = 16


def tcn_plan(channels: int | Sequence[int], dilations: Sequence[int] | None = None,
             stacks: int = 1) -> tuple[list[int], list[int]]:
    """The per-block widths and dilations of a TCN.

    ``dilations`` (one stack) is repeated ``stacks`` times; without it, ``channels`` must be
    a list and each stack gets ``1, 2, 4, ...``. ``channels`` is one width for every block
    or one per block.

    >>> tcn_plan(16, [1, 2, 4], stacks=2)
    ([16, 16, 16, 16, 16, 16], [1, 2, 4, 1, 2, 4])
    >>> tcn_plan([8, 8, 16, 16], stacks=2)
    ([8, 8, 16, 16], [1, 2, 1, 2])
    """
    stacks = positive_int(stacks, "stacks")
    if dilations is None:
        if isinstance(channels, (int, np.integer)):
            raise ValueError(f"TCN needs channels as a list (one width per block) or a dilations "
                             f"list, got channels={channels} and dilations=None")
        blocks = len(channels)
        if blocks == 0 or blocks % stacks:
            raise ValueError(f"{blocks} channel widths cannot be split into {stacks} stacks")
        full = dilation_schedule(blocks // stacks, stacks=stacks)
    else:
        full = [positive_int(d, "dilation") for d in dilations] * stacks
        if not full:
            raise ValueError("dilations must list at least one dilation, got an empty list")
    if isinstance(channels, (int, np.integer)):
        widths = [positive_int(int(channels), "channels")] * len(full)
    else:
        widths = [positive_int(int(c), "channels") for c in channels]
        if len(widths) != len(full):  # (one width for all always fits)
            raise ValueError(f"expected {len(full)} channel widths (one per block: "
                             f"{len(full) // stacks}"
                             f" dilations x {stacks} stacks), got {len(widths)}: "
                             f"{list(channels)}")
    return widths, full

class TCN(Model):
    """Temporal convolutional network (Bai, Kolter & Koltun 2018), inference in numpy.

    Args:
        in_channels: input channels.
        channels: one width for every block, or a list of one width per block.
        kernel_size: taps of each dilated conv (two per block).
        dilations: dilations of one stack (default ``1, 2, 4, ...``, one per block).
        stacks: repeats of ``dilations``.
        out_channels: width of an optional 1x1 ``head`` after the last block (None: no head).
        params: ``{name: array}`` as written by ``wavedil.nn.export`` (None: random, ``seed``).

    Parameters: ``blocks.{i}.conv1/conv2.weight/bias``, ``blocks.{i}.downsample.weight/bias``
    (where the width changes), ``head.weight/bias``.
    """

    architecture = "TCN"

    def __init__(self, in_channels: int, channels: int | list[int], kernel_size: int = 3,
                 dilations: list[int] | None = None, stacks: int = 1,
                 out_channels: int | None = None, *,
                 params: dict[str, npt.ArrayLike] | None = None, seed: int | None = 0) -> None:
        widths, full = tcn_plan(channels, dilations, stacks)
        config = {"in_channels": positive_int(in_channels, "in_channels"), "channels": widths,
                  "kernel_size": positive_int(kernel_size, "kernel_size"), "dilations": full,
                  "out_channels": None if out_channels is None else
                  positive_int(out_channels, "out_channels")}
        super().__init__(config, params, seed)

    @staticmethod
    def _widths(c):
        return list(zip([c["in_channels"]] + c["channels"][:-1], c["channels"]))

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        k, shapes = self.config["kernel_size"], {}
        for i, (c_in, c_out) in enumerate(self._widths(self.config)):
            shapes.update({f"blocks.{i}.conv1.weight": (c_out, c_in, k),
                           f"blocks.{i}.conv1.bias": (c_out,),
                           f"blocks.{i}.conv2.weight": (c_out, c_out, k),
                           f"blocks.{i}.conv2.bias": (c_out,)})
            if c_in != c_out:
                shapes.update({f"blocks.{i}.downsample.weight": (c_out, c_in, 1),
                               f"blocks.{i}.downsample.bias": (c_out,)})
        if self.config["out_channels"] is not None:
            c_out = self.config["channels"][-1]
            shapes.update({"head.weight": (self.config["out_channels"], c_out, 1),
                           "head.bias": (self.config["out_channels"],)})
        return shapes

    def _dilated(self):
        if self.config["kernel_size"] == 1:
            return {}
        return {f"blocks.{i}.conv{j}": (d, 1) for i, d in enumerate(self.config["dilations"])
                for j in (1, 2)}

    @property
    def out_channels(self) -> int:
        return self.config["out_channels"] or self.config["channels"][-1]

    @classmethod
    def spec_of(cls, config: dict[str, Any]) -> Chain:
        k = config["kernel_size"]
        parts: list[Branches | LayerSpec] = []
        for i, ((c_in, c_out), d) in enumerate(zip(cls._widths(config), config["dilations"])):
            body = Chain((_conv_spec(f"blocks.{i}.conv1", c_in, c_out, k, d),
                          _conv_spec(f"blocks.{i}.conv2", c_out, c_out, k, d)))
            skip = Chain(()) if c_in == c_out else \
                _conv_spec(f"blocks.{i}.downsample", c_in, c_out)
            parts.append(Branches((skip, body)))
        if config["out_channels"] is not None:
            parts.append(_conv_spec("head", config["channels"][-1], config["out_channels"]))
        return Chain(tuple(parts))

    def stream(self, batch: int | None = None) -> TCNStream:
        """A fresh stream (latency 0); ``batch`` fixes the batch size of 3-D chunks."""
        return TCNStream(self, batch)

class TCNStream(ModelStream):
    """Stream of a numpy ``TCN``.

    With dilated convs (``kernel_size > 1``) a chunk runs as a fused, time-major chain
    (``wavedil.engine.fused``): per conv its matrix products (im2col, or Winograd F(2, 3) for
    chunks of 32 samples and more in whole tiles) and compiled passes that apply the
    ReLUs and the residual sum, write the result into the next conv's history and gather
    that conv's inputs. Chunks of up to ``STEP_SAMPLES`` run whole in one compiled call
    (``wavedil.engine.blocks``) on the same histories. States keep the engine's layout.
    """

    def fused(self) -> bool:
        return self.model.config["kernel_size"] > 1

    def _bind(self, dtype: np.dtype) -> None:
        blocks = len(self.model.config["dilations"])
        if not self.fused():  # kernel size 1: every conv a matrix product
            ops = self.ops
            self._blocks = [(ops[f"blocks.{i}.conv1"], ops[f"blocks.{i}.conv2"],
                             ops.get(f"blocks.{i}.downsample")) for i in range(blocks)]
            self._head = ops.get("head")
            return
        self._kernels = compiled_passes()
        w = self.w
        self._fused = [(f"blocks.{i}.conv1", f"blocks.{i}.conv2",
                        time_major_1x1(w, f"blocks.{i}.downsample")) for i in range(blocks)]
        self._head_tm = time_major_1x1(w, "head")
        convs, self._step = self.model.shared(("fused", dtype), self._fused_runtime)
        self._chain = FusedChain(convs, BLOCK)  # the stream's own input blocks
        self._bound = (None, None, None)  # a new dtype's chain: bind again

    def _fused_runtime(self) -> tuple[dict[str, FusedConv], ResidualChainStep]:
        """The fused convs and the compiled step in the bound dtype (the model keeps them
        for all its streams)."""
        dtype, convs = self._dtype, self.model.dilated_convs
        assert dtype is not None  # bound
        fused = {name: FusedConv(convs[name], dtype) for n1, n2, _ in self._fused
                 for name in (n1, n2)}
        blocks = [(n1, n2, down, 0) for n1, n2, down in self._fused]
        return fused, ResidualChainStep(FusedChain(fused, BLOCK), blocks, self._head_tm, dtype)

    def _run(self, x: np.ndarray, **cond: np.ndarray) -> np.ndarray:  # (no conditioning)
        if self._chain is not None:
            return self._run_fused(x)
        for conv1, conv2, downsample in self._blocks:
            h = conv1(x)
            relu(h)
            h = conv2(h)
            relu(h)
            h += x if downsample is None else downsample(x)
            x = relu(h)
        return x if self._head is None else self._head(x)

    def _make_plan(self, convs: dict, histories: dict, inputs: dict) -> list[tuple]:
        """Per block: its two convs with their histories and input blocks, and its
        downsample."""
        return [(convs[n1], histories[n1], inputs[n1], convs[n2], histories[n2], inputs[n2],
                 downsample) for n1, n2, downsample in self._fused]

    def _run_fused(self, x: np.ndarray) -> np.ndarray:
        batch, _, m = x.shape
        if m <= STEP_SAMPLES:  # short chunks: the whole chain in one compiled call
            y = self._step(x, self.state.histories)
            if y is not None:
                return y
        kernels = self._kernels
        plan = self._plan(batch, m, x.dtype)
        product = residual = np.ascontiguousarray(x.transpose(0, 2, 1))  # (B, m, C)
        mode = kernels.COPY  # the chunk enters the first history as it is
        relu_res, relu_ = kernels.RELU_RESIDUAL_RELU, kernels.RELU
        for conv1, hist1, in1, conv2, hist2, in2, downsample in plan:
            block_in = conv1.store(kernels, hist1, product, residual, mode, in1)
            conv2.store(kernels, hist2, conv1.product(in1), None, relu_, in2)
            product, mode = conv2.product(in2), relu_res  # relu(relu(h) + x)
            residual = block_in if downsample is None else pointwise_tm(downsample, block_in)
        out = np.empty((batch, m, conv2.layer.out_channels), x.dtype)
        store_product(kernels, product, residual, mode, out, 0)  # activated, no history
        if self._head_tm is not None:
            out = pointwise_tm(self._head_tm, out)
        return np.ascontiguousarray(out.transpose(0, 2, 1))
