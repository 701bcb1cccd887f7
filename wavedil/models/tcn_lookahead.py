"""The compiled short-chunk step and the fused chain for a TCN with lookahead (``alignment``
other than causal).

A conv with extent ``(left, right)`` streams by holding back ``right`` outputs: once its
history holds ``span`` samples, each new input gives the output ``right`` samples in the
past, computed from the ``span + 1`` newest inputs exactly as a causal conv computes the
present one. So, once every conv's history is full, a chunk runs through the chain as
through a causal TCN, with each block's residual taken ``lag`` samples back (the sum of
its convs' ``right``): the compiled step ``wavedil.engine.blocks.ResidualChainStep`` does
that on the histories of a ``TimeMajorArena``, as it does for causal TCNs, and so does the
fused chain of longer chunks (``wavedil.engine.fused``, ``run``) on the same arena.

The stream's state stays the engine's own (each conv stream's channel-major history and the
residuals' delay lines), which the Python runtime fills while the histories fill up and
empties at the end (``flush``). ``enter`` copies the full histories into an arena, where the
step runs chunk after chunk; ``leave`` writes them back. A residual delay line holds the
block input's last ``lag`` samples (their 1x1 projection where the width changes): when
``lag`` is at most the first conv's ``span``, that conv's history holds them too, and
``leave`` rebuilds the line from it; a longer lag (pytorch-tcn's non-causal padding of an
odd span puts one sample more on the right) keeps its delay line in the arena as well.

Shape: histories ``(B, C_in, span)`` in the conv streams, ``(B, span, C_in)`` in the arena.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ..engine.blocks import ResidualChainStep
from ..engine.conv import ConvStream, DilatedConv1d
from ..engine.fused import (
    ChainHistories,
    FusedChain,
    FusedConv,
    pointwise_tm,
    residual_blocks,
    time_major_1x1,
)
from ..engine.history import DelayLine, History, TimeMajorArena


class LookaheadStep:
    """The compiled step of a TCN's ``blocks`` (each ``(conv1, conv2, downsample, lag)``
    by name) with lookahead, in ``dtype``, and its fused chain (``run``) for chunks of up to
    ``largest`` samples; ``w`` holds the stream's cast 1x1 weights."""

    def __init__(self, convs: Mapping[str, DilatedConv1d], blocks: list[tuple[str, str, str,
                 int]], w: dict[str, np.ndarray], dtype: npt.DTypeLike, largest: int) -> None:
        # each conv's causal twin: the same weights and arithmetic, read ``right`` later
        twins = {name: FusedConv(DilatedConv1d(conv.weight, conv.bias, conv.dilation), dtype)
                 for n1, n2, _, _ in blocks for name, conv in ((n1, convs[n1]),
                                                               (n2, convs[n2]))}
        self.chain = FusedChain(twins, largest)
        # the residual delay lines the arena keeps too: name -> (channels, lag)
        self.delays = {f"blocks.{i}.res_delay": (twins[n2].layer.out_channels, lag)
                       for i, (n1, n2, _, lag) in enumerate(blocks) if lag > twins[n1].span}
        self.blocks = [(n1, n2, time_major_1x1(w, down), lag,
                        f"blocks.{i}.res_delay" if f"blocks.{i}.res_delay" in self.delays
                        else None) for i, (n1, n2, down, lag) in enumerate(blocks)]
        self.head = time_major_1x1(w, "head")
        self.step = ResidualChainStep(self.chain, self.blocks, self.head, dtype,
                                      list(self.delays))

    def run(self, x: np.ndarray, histories: ChainHistories) -> np.ndarray:
        """A chunk ``(B, C_in, m)`` through the fused chain (``wavedil.engine.fused``: BLAS
        or Winograd products between compiled passes) on the arena's histories, as a
        causal TCN's stream runs its longer chunks, each residual ``lag`` rows back (from
        its delay line where the arena keeps one); ``(B, C_out, m)`` out."""
        batch, _, m = x.shape
        inputs, convs = self.chain.inputs_blocks(batch, m, x.dtype), self.chain.convs
        plan = [(convs[first], histories[first], inputs[first], convs[second],
                 histories[second], inputs[second], projection, lag,
                 histories[delay] if delay else None)
                for first, second, projection, lag, delay in self.blocks]
        return residual_blocks(plan, x, self.head)

    def __repr__(self) -> str:
        return f"LookaheadStep({self.step!r})"

    def new_state(self, batch: int, dtype: npt.DTypeLike) -> ChainHistories:
        """An arena for the step's histories: each conv's ``span`` rows, then the delay
        lines it keeps."""
        convs = self.chain.convs.values()
        arena = TimeMajorArena(
            batch, [c.span for c in convs] + [lag for _, lag in self.delays.values()],
            [c.layer.in_channels for c in convs] + [c for c, _ in self.delays.values()],
            self.chain.largest, dtype)
        return ChainHistories(arena, list(self.chain.convs) + list(self.delays))

    def _pairs(self, streams: Mapping[str, ConvStream],
               delays: Mapping[str, DelayLine]) -> dict[str, tuple[History | None, int]]:
        """Each arena history's counterpart in the stream's state, and its full length."""
        pairs: dict[str, tuple[History | None, int]] = {
            name: (streams[name].state.history, conv.span)
            for name, conv in self.chain.convs.items()}
        pairs.update({name: (delays[name], lag) for name, (_, lag) in self.delays.items()})
        return pairs

    def enter(self, streams: Mapping[str, ConvStream], delays: Mapping[str, DelayLine],
              histories: ChainHistories) -> bool:
        """Copy the conv streams' histories (by name) and the delay lines the arena keeps
        into ``histories``; False, and nothing copied, while one is not full yet."""
        pairs = self._pairs(streams, delays)
        if any(h is None or len(h) != n for h, n in pairs.values()):
            return False
        for name, (history, _) in pairs.items():
            assert history is not None  # (full)
            histories[name].load(history.recent().transpose(0, 2, 1))
        return True

    def leave(self, histories: ChainHistories, streams: Mapping[str, ConvStream],
              delays: Mapping[str, DelayLine]) -> None:
        """Write the arena's histories back into the conv streams and delay lines; each
        other residual delay line (``blocks.{i}.res_delay``) from its first conv's history."""
        for name, (history, _) in self._pairs(streams, delays).items():
            assert history is not None  # (the step ran on it)
            history.load(histories[name].recent().transpose(0, 2, 1))
        for i, (first, _, projection, lag, kept) in enumerate(self.blocks):
            line: Any = delays.get(f"blocks.{i}.res_delay")
            if line is None or kept is not None:
                continue
            past = histories[first].recent()[:, -lag:]  # (B, lag, C_in)
            if projection is not None:
                past = pointwise_tm(projection, past)
            line.load(past.transpose(0, 2, 1))
