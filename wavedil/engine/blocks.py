"""The compiled short-chunk step of a chain of residual blocks: one call per chunk.

A TCN streamed in chunks of a few samples spends its time in Python between the convs (a
call per conv, per pass, per product), not in their arithmetic. ``ResidualChainStep`` runs
the whole chunk through every block in one compiled call
(``wavedil.engine._jit.chain.residual_chain``): convs, ReLUs, residual sums, 1x1
projections and head, on the histories of the chain's ``TimeMajorArena``, the very
histories the BLAS runtime (``wavedil.engine.fused``) uses, so a stream may switch between
the two at any chunk. Its products are compiled loops summed in a fixed order for a
one-sample chunk, and one BLAS call per conv from two samples on; every chunking agrees
with the others within the contract's tolerance.

Each block is ``(conv1, conv2, projection, lag)``: the names of its two dilated convs in
the chain, its residual's 1x1 projection (``time_major_1x1``) or None, and the residual's
delay in samples (0 for causal convs; a block of convs with lookahead ``right`` delays its
residual by their sum, see ``wavedil.engine._jit.chain``), read from ``conv1``'s history;
a fifth item, when the lag passes ``conv1``'s span, names the history of ``lag`` rows that
delays the residual instead (one of ``delays``: histories the caller's arena keeps after
the convs', in that order).

Shape: ``(B, C_in, m)`` in, ``(B, C_out, m)`` out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional, Tuple

import numpy as np
import numpy.typing as npt

from .fused import ChainHistories, FusedChain
from .history import History, on_cache_line

Projection = Optional[Tuple[np.ndarray, np.ndarray]]  # a 1x1 conv: (C_in, C_out), (C_out,)
Block = Tuple  # conv1, conv2, projection, lag[, delay]


class ResidualChainStep:
    """Every block of ``chain`` (``blocks`` in order) and the optional 1x1 ``head`` as one
    compiled call per chunk, in ``dtype`` (the weights are packed once)."""

    def __init__(self, chain: FusedChain, blocks: Sequence[Block], head: Projection,
                 dtype: npt.DTypeLike, delays: Sequence[str] = ()) -> None:
        from ._jit import chain as kernels  # numba, on first use

        dtype = np.dtype(dtype)
        names = list(chain.convs)
        parts: list[np.ndarray] = []
        rows: list[tuple[int, int, int, int, int]] = []  # the kernel's ``convs``

        def add(weight: np.ndarray, bias: np.ndarray, taps: int, dilation: int) -> int:
            """Append a conv (``weight`` ``(taps C_in, C_out)``, ``bias``); its row."""
            offset = sum(part.size for part in parts)
            parts.extend([np.ascontiguousarray(weight, dtype).ravel(), bias.astype(dtype)])
            rows.append((weight.shape[0] // taps, weight.shape[1], taps, dilation, offset))
            return len(rows) - 1

        for conv in chain.convs.values():  # row j is history j of the chain's arena
            c_out, c_in, taps = conv.layer.weight.shape
            add(conv.weight[: taps * c_in], conv.bias, taps, conv.dilation)
        table = np.zeros((len(blocks), 6), np.int64)
        histories = names + list(delays)  # the arena's, in order
        for i, (first, second, projection, lag, *delay) in enumerate(blocks):
            table[i] = (names.index(first), names.index(second),
                        -1 if projection is None else add(projection[0], projection[1], 1, 0),
                        lag, -1,
                        histories.index(delay[0]) if delay and delay[0] else -1)
        if head is not None:
            table[-1, 4] = add(*head, 1, 0)
        self.convs, self.blocks = np.array(rows, np.int64), table
        self.weights = on_cache_line(np.concatenate(parts))  # (vector loads within lines)
        self.out_channels = int(self.convs[table[-1, 4] if head is not None else
                                           table[-1, 1], 1])
        self.dtype = dtype
        self._parts: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._kernel: Callable[..., bool] = kernels.residual_chain

    def __repr__(self) -> str:
        return (f"ResidualChainStep(blocks={len(self.blocks)}, out_channels="
                f"{self.out_channels}, dtype={self.dtype})")

    def parts(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The weights split for ``n`` threads (``wavedil.engine._jit.chain_parts``):
        part ``p``'s columns ``[C p // n, C (p + 1) // n)`` of each conv, packed, from
        ``offsets[p, j]`` for conv ``j``; row ``n`` of ``offsets`` is the whole of each conv
        (``self.weights``, appended)."""
        if n not in self._parts:
            parts: list[np.ndarray] = []
            offsets = np.zeros((n + 1, len(self.convs)), np.int64)
            at = 0
            for p in range(n):
                for j, (c_in, c_out, taps, _, w0) in enumerate(self.convs.tolist()):
                    first, stop = c_out * p // n, c_out * (p + 1) // n
                    whole = self.weights[w0 : w0 + (taps * c_in + 1) * c_out]
                    part = whole.reshape(taps * c_in + 1, c_out)[:, first:stop]
                    offsets[p, j] = at
                    parts.append(np.ascontiguousarray(part).ravel())
                    at += part.size
            offsets[n] = self.convs[:, 4] + at
            self._parts[n] = (on_cache_line(np.concatenate([*parts, self.weights])), offsets)
        return self._parts[n]

    def __call__(self, x: np.ndarray, histories: Mapping[str, History],
                 finite_only: bool = False) -> np.ndarray | None:
        """The chunk ``x`` (``(B, C_in, m)``) through every block, its samples appended to
        ``histories`` (the chain's ``ChainHistories``); None (and nothing touched) while a
        history is not full, or, with ``finite_only``, if ``x`` is not all finite."""
        return self.bound(histories)(x, finite_only)

    def bound(self, histories: Mapping[str, History], direct: bool = False
              ) -> Callable[[np.ndarray, bool], np.ndarray | None]:
        """``self(x, histories, finite_only)`` as a function of ``(x, finite_only)``, its
        arrays looked up once: a stream's calls of one sample each pay for every lookup.
        ``direct``: for chunks the caller guarantees to be ``(B, C_in, m)`` arrays of
        ``self.dtype`` (any strides), the kernel compiled for them, called without numba's
        dispatch on the arguments' types (``compiled_entry``)."""
        if not isinstance(histories, ChainHistories):
            raise TypeError(f"expected the chain's ChainHistories, got {type(histories)}")
        arena = histories.arena
        weights, convs, blocks, buf, table = (self.weights, self.convs, self.blocks,
                                              arena.buffer, arena.table)
        c_out, dtype = self.out_channels, self.dtype
        kernel = self._kernel
        if direct:
            y = np.empty((1, c_out, 1), dtype)
            kernel = compiled_entry(kernel, dtype, (y, weights, convs, blocks, buf, table))

        def run(x: np.ndarray, finite_only: bool = False) -> np.ndarray | None:
            y = np.empty((x.shape[0], c_out, x.shape[2]), x.dtype)
            return y if kernel(x, y, weights, convs, blocks, buf, table, finite_only) \
                else None

        return run


def compiled_entry(kernel: Any, dtype: np.dtype, arrays: Sequence[np.ndarray]) -> Any:
    """``kernel`` (a numba function of a chunk ``(B, C, m)`` of ``dtype`` in any layout,
    then ``arrays`` and a flag) as its compiled function for exactly those types, called
    without numba's dispatch, which types every argument on every call. The caller must
    pass exactly such arguments: nothing checks them. Any other callable (a test's spy) is
    returned as it is."""
    from numba import from_dtype, typeof, types

    if not hasattr(kernel, "overloads"):
        return kernel
    signature = (types.Array(from_dtype(dtype), 3, "A"),
                 *(typeof(array) for array in arrays), types.boolean)
    kernel.compile(signature)  # (from numba's cache when it holds it)
    return kernel.overloads[signature].entry_point
