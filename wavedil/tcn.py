"""TCN in numpy: residual blocks of two dilated causal convs, offline and streaming.

After Bai, Kolter & Koltun (2018), as in locuslab/TCN: each block computes
``relu(x' + relu(conv2(relu(conv1(x)))))`` with ``x'`` = ``x`` or a 1x1 projection
(``downsample``) where the widths differ; an optional 1x1 ``head`` follows the last block.
``tcn_plan`` (the per-block widths and dilations) is shared with the torch twin
``wavedil.nn.TCN``; the machinery common to the numpy models is in ``wavedil.model``.

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

import threading
from typing import NamedTuple

import numpy as np

from ._checks import positive_int
from .activations import relu
from .conv import ConvStream, _im2col_block
from .model import _conv_spec, _Model, _ModelStream
from .spec import Branches, Chain, dilation_schedule


def tcn_plan(channels, dilations=None, stacks=1) -> tuple[list[int], list[int]]:
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
    if len(widths) != len(full):
        raise ValueError(f"expected {len(full)} channel widths (one per block: "
                         f"{len(full) // stacks}"
                         f" dilations x {stacks} stacks), got {len(widths)}: {list(channels)}")
    return widths, full


class TCN(_Model):
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

    def __init__(self, in_channels, channels, kernel_size=3, dilations=None, stacks=1,
                 out_channels=None, *, params=None, seed=0):
        widths, full = tcn_plan(channels, dilations, stacks)
        config = {"in_channels": positive_int(in_channels, "in_channels"), "channels": widths,
                  "kernel_size": positive_int(kernel_size, "kernel_size"), "dilations": full,
                  "out_channels": None if out_channels is None else
                  positive_int(out_channels, "out_channels")}
        super().__init__(config, params, seed)

    @staticmethod
    def _widths(c):
        return list(zip([c["in_channels"]] + c["channels"][:-1], c["channels"]))

    def param_shapes(self):
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
    def in_channels(self) -> int:
        return self.config["in_channels"]

    @property
    def out_channels(self) -> int:
        return self.config["out_channels"] or self.config["channels"][-1]

    @classmethod
    def spec_of(cls, config):
        k, parts = config["kernel_size"], []
        for i, ((c_in, c_out), d) in enumerate(zip(cls._widths(config), config["dilations"])):
            body = Chain((_conv_spec(f"blocks.{i}.conv1", c_in, c_out, k, d),
                          _conv_spec(f"blocks.{i}.conv2", c_out, c_out, k, d)))
            skip = Chain(()) if c_in == c_out else \
                _conv_spec(f"blocks.{i}.downsample", c_in, c_out)
            parts.append(Branches((skip, body)))
        if config["out_channels"] is not None:
            parts.append(_conv_spec("head", config["channels"][-1], config["out_channels"]))
        return Chain(tuple(parts))

    def stream(self, batch=None) -> TCNStream:
        """A fresh stream (latency 0); ``batch`` fixes the batch size of 3-D chunks."""
        return TCNStream(self, batch)


class TCNStream(_ModelStream):
    """Stream of a numpy ``TCN``.

    With dilated convs (``kernel_size > 1``) a chunk runs fused: per conv one matrix
    product on an im2col block (numpy's BLAS) and one compiled pass
    (``wavedil._stream_kernels.store_and_gather``) that applies the ReLUs and the residual
    sum, writes the result into the next conv's history and gathers that conv's im2col
    block. The histories are the engine's (``ConvStream``), so states are unchanged.
    """

    def _bind(self):
        ops, blocks = self.ops, len(self.model.config["dilations"])
        self._blocks = [(ops[f"blocks.{i}.conv1"], ops[f"blocks.{i}.conv2"],
                         ops.get(f"blocks.{i}.downsample")) for i in range(blocks)]
        self._head = ops.get("head")
        self._fused, self._col_key = [], None
        if self.steps:  # dilated convs (kernel_size > 1): the fused path
            self._fused = [tuple(_FusedConv.of(self.steps[f"blocks.{i}.{name}"], self._dtype)
                                 for name in ("conv1", "conv2"))
                           + (ops.get(f"blocks.{i}.downsample"),) for i in range(blocks)]

    def _run(self, x):
        if self._fused:
            return self._run_fused(x)
        for conv1, conv2, downsample in self._blocks:
            h = conv1(x)
            relu(h)
            h = conv2(h)
            relu(h)
            h += x if downsample is None else downsample(x)
            x = relu(h)
        return x if self._head is None else self._head(x)

    def _run_fused(self, x):
        from ._stream_kernels import COPY, RELU, RELU_RESIDUAL_RELU, store_and_gather  # numba

        batch, _, m = x.shape
        cols = self._cols(batch, m, x.dtype)
        src = residual = np.ascontiguousarray(x)
        mode = COPY  # the chunk enters the first history as it is
        for conv1, conv2, downsample in self._fused:
            col, block_in = conv1.store(store_and_gather, src, residual, mode, cols)
            col, _ = conv2.store(store_and_gather, np.matmul(conv1.weight, col), None, RELU,
                                 cols)
            src, mode = np.matmul(conv2.weight, col), RELU_RESIDUAL_RELU
            residual = block_in if downsample is None else downsample(block_in)
        out = np.empty_like(src)  # the last block's output: activated, no history
        store_and_gather(src, residual, mode, out, 0, 0, 0, 0, out)
        return out if self._head is None else self._head(out)

    def _cols(self, batch: int, m: int, dtype) -> dict:
        """This chunk shape's im2col blocks, one per row count, each with a row of ones."""
        key = (batch, m, dtype, threading.get_ident())  # the blocks are this thread's
        if self._col_key != key:
            rows = {conv.weight.shape[1] for block in self._fused for conv in block[:2]}
            self._col_key = key
            self._col_blocks = {r: _im2col_block((batch, 1, r, m), dtype, True)[:, 0]
                                for r in rows}
        return self._col_blocks


class _FusedConv(NamedTuple):
    """A dilated conv of the fused TCN stream: its engine stream and im2col weight."""

    step: ConvStream
    weight: np.ndarray  # (C_out, C_in * K + 1): stacked taps, the bias as the last column
    span: int
    dilation: int
    taps: int

    @classmethod
    def of(cls, step: ConvStream, dtype) -> _FusedConv:
        layer = step.layer
        return cls(step, layer._cast(dtype).im2col[0], layer.span, layer.dilation,
                   layer.kernel_size)

    def store(self, store_and_gather, src, residual, mode, cols):
        """``act(src)`` into this conv's history (by ``store_and_gather``).

        Returns the conv's im2col block for the chunk and a view of what was stored.
        """
        m = src.shape[-1]
        history = self.step.history(src.shape[0], src.dtype)
        col = cols[self.weight.shape[1]]
        slot = history.reserve(m)
        buffer = history.buffer
        store_and_gather(src, src if residual is None else residual, mode, buffer, slot,
                         self.span, self.dilation, self.taps, col)
        return col, buffer[..., slot : slot + m]
