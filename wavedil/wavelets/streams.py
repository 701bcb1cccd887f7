"""Real-time à trous transforms: the forward, its inverse and the denoiser, as streams.

``AtrousStream`` runs a chunk through every level in one compiled call
(``wavedil.engine._jit.levels.stream_levels``): level j keeps the last ``(K-1) 2^(j-1)``
samples of its input c_{j-1} in a linear buffer (moved to the front only when its room runs
out, as ``wavedil.engine.history.History``), filters them with the engine's dilated
cross-correlation (the layers of ``wavedil.wavelets.transform.level_layers``, the lowpass
and highpass from one read), and hands c_j to level j+1; so the work per chunk grows with
the chunk and the taps, never with the dilation, and no Python runs per level. Level j's
coefficients come out ``R_j = right_1 + ... + right_j`` samples late (0 for the causal
alignment); the outputs of the shallower levels wait in delay lines so that all coefficients
of one sample come out together, ``latency = R_J`` samples after their input (the streaming
contract of ``wavedil.engine.stream``: process, then flush, concatenated, equals
``wavedil.atrous`` with the same options).

Output layout: a chunk of ``(levels + 1, *chunk_layout)``: ``w_1 .. w_J`` then ``c_J``,
as ``AtrousResult.stack()``; ``chunk_layout`` is the layout of the input chunks (``(m,)``,
``(C, m)`` or ``(B, C, m)``).

Boundaries are ``"zero"`` and ``"edge"`` (what a stream can know: the first sample at the
start, the last at the end), applied per level as offline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ..engine.checks import as_float_array, positive_int
from ..engine.spec import Branches
from ..engine.stream import Stream
from .banks import WaveletLike, filter_bank
from .transform import (
    ALIGNMENTS,
    atrous,
    atrous_spec,
    level_extent,
)

STREAM_BOUNDARIES = ("zero", "edge")
_PIECE = 4096  # the longest piece of a chunk one kernel call takes (bounds the buffers)


def check_stream_options(alignment: str, boundary: str) -> None:
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    if boundary not in STREAM_BOUNDARIES:
        raise ValueError(f"a stream's boundary must be one of {STREAM_BOUNDARIES} (periodic, "
                         f"symmetric and reflect need the whole signal), got {boundary!r}")


class AtrousStream(Stream):
    """The forward à trous transform, chunk by chunk (see the module docstring).

    Args:
        wavelet: a name, FilterBank, ``(lowpass, highpass)`` pair or pywt-like object.
        levels: J >= 1.
        alignment: ``"causal"`` (latency 0), ``"centered"`` or ``"pywt"``.
        boundary: ``"zero"`` or ``"edge"``.
        norm: MODWT normalisation, as ``atrous``.
        channels: C, the channels of each chunk (every channel is transformed alone).
        batch: fixes the batch size of 3-D chunks (None: any, fixed by the first chunk).

    Shape: chunks ``(m,)``, ``(C, m)`` or ``(B, C, m)`` in; ``(levels + 1, *chunk_shape)``
    out (``w_1 .. w_J, c_J``).
    """

    def __init__(self, wavelet: WaveletLike, levels: int, alignment: str = "causal",
                 boundary: str = "zero", norm: bool = False, channels: int = 1,
                 batch: int | None = None) -> None:
        self.bank = filter_bank(wavelet)
        self.levels = positive_int(levels, "levels")
        check_stream_options(alignment, boundary)
        self.alignment, self.boundary, self.norm = alignment, boundary, bool(norm)
        self.channels = positive_int(channels, "channels")
        extents = [level_extent(self.bank, j, alignment) for j in range(1, self.levels + 1)]
        delays = np.cumsum([right for _, right in extents])  # R_j: level j's own delay
        latency = int(delays[-1])
        # per level: (left, right, dilation, wait of w_j in its delay line = R_J - R_j)
        self._geometry = np.array([(left, right, 2 ** j, latency - delay) for j, ((left, right),
                                   delay) in enumerate(zip(extents, delays))], np.int64)
        self._buffers = None  # the kernel's arrays, made for the first chunk's layout
        self._count = 0  # samples fed so far
        super().__init__(self.channels, (self.levels + 1) * self.channels, latency, batch)

    @property
    def spec(self) -> Branches:
        return atrous_spec(self.bank, self.levels, self.alignment)

    # -- the kernel's state -----------------------------------------------------------------
    def _make_buffers(self, rows: int, dtype) -> dict:
        """Zeroed arrays for ``stream_levels``: histories, delay lines, scratch, taps."""
        left, right, _, wait = self._geometry.T
        span, room = left + right, max(_PIECE, self.latency)
        # level j takes at most a piece, or R_j = latency - wait_j samples when flushed:
        # room for its kept span, its left boundary, that much, and as much again
        history_sizes = 2 * span + left + np.maximum(_PIECE, self.latency - wait)
        line_sizes = np.where(wait > 0, 2 * wait + room, 0)
        scale = 1 / math.sqrt(2) if self.norm else 1.0
        dtype = np.dtype(dtype)
        return {
            "hist": np.zeros((rows, int(history_sizes.sum())), dtype),
            "hist_base": np.concatenate([[0], np.cumsum(history_sizes)]).astype(np.int64),
            "hist_pos": np.full((self.levels, 2), -1, np.int64),
            "lines": np.zeros((rows, int(line_sizes.sum())), dtype),
            "line_base": np.concatenate([[0], np.cumsum(line_sizes)]).astype(np.int64),
            "line_pos": np.zeros((self.levels, 2), np.int64),
            "c_tmp": np.zeros((rows, room), dtype), "w_tmp": np.zeros((rows, room), dtype),
            "lo": np.ascontiguousarray(self.bank.dec_lo[::-1] * scale, dtype),
            "hi": np.zeros(0, dtype) if self.bank.difference else
            np.ascontiguousarray(self.bank.dec_hi[::-1] * scale, dtype),
            "scale": dtype.type(scale),
        }

    def _run(self, x: np.ndarray, final: bool) -> np.ndarray:
        """``x`` ``(rows, m)`` through every level: ``(levels + 1, rows, m_out)``."""
        from ..engine._jit.levels import stream_levels

        rows, m = x.shape
        if self._buffers is None:
            self._buffers = self._make_buffers(rows, x.dtype)
        done, count = max(0, self._count - self.latency), self._count + m
        m_out = count - done if final else max(0, count - self.latency) - done
        out = np.empty((self.levels + 1, rows, m_out), x.dtype)
        k = self._buffers
        stream_levels(x, final, k["lo"], k["hi"], k["scale"], self.boundary == "edge",
                      self._geometry, k["hist"], k["hist_base"], k["hist_pos"], k["lines"],
                      k["line_base"], k["line_pos"], k["c_tmp"], k["w_tmp"], out)
        self._count = count
        return out

    # -- Stream hooks -----------------------------------------------------------------------
    def config(self) -> dict:
        return {"op": "AtrousStream", "wavelet": self.bank.name,
                "dec_lo": self.bank.dec_lo.tolist(), "levels": self.levels,
                "alignment": self.alignment, "boundary": self.boundary, "norm": self.norm,
                "channels": self.channels}

    def step(self, x: np.ndarray) -> np.ndarray:
        """``(B, C, m)`` in, ``(levels + 1, B, C, m_out)`` out (pieces of ``_PIECE``)."""
        batch, channels, m = x.shape
        rows = np.ascontiguousarray(x).reshape(batch * channels, m)
        pieces = [self._run(rows[:, start : start + _PIECE], False)
                  for start in range(0, m, _PIECE)] or [self._run(rows, False)]
        y = pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=-1)
        return y.reshape(self.levels + 1, batch, channels, y.shape[-1])

    def finish(self) -> np.ndarray:
        assert self.layout is not None
        batch, dtype = self.layout.batch, self.layout.dtype
        y = self._run(np.zeros((batch * self.channels, 0), dtype), True)
        return y.reshape(self.levels + 1, batch, self.channels, y.shape[-1])

    def restore(self, y: np.ndarray) -> np.ndarray:
        assert self.layout is not None
        ndim = self.layout.ndim
        return y if ndim == 3 else y[:, 0, 0] if ndim == 1 else y[:, 0]

    def flush(self) -> np.ndarray:
        if self.layout is None and not self.flushed and self.batch is None:
            self.flushed = True
            shape = (self.levels + 1,) + ((0,) if self.channels == 1 else (self.channels, 0))
            return np.zeros(shape)
        return super().flush()

    def _lines(self):
        """``(name, array, positions, k, most)`` of every history and delay line."""
        k = self._buffers
        for j in range(self.levels):
            span = int(self._geometry[j, 0] + self._geometry[j, 1])
            yield f"level{j + 1}.history", k["hist"], k["hist_base"], k["hist_pos"], j, span
            wait = int(self._geometry[j, 3])
            if wait:
                yield f"out{j + 1}.pending", k["lines"], k["line_base"], k["line_pos"], j, wait

    def export_state(self) -> dict[str, np.ndarray]:
        state = {"count": np.array(self._count, np.int64)}
        if self._buffers is None or self.layout is None:
            return state
        batch = self.layout.batch
        for name, array, base, pos, j, _ in self._lines():
            start, end = pos[j]
            if start >= 0:
                kept = array[:, base[j] + start : base[j] + end]
                state[name] = kept.reshape(batch, self.channels, end - start).copy()
        return state

    def import_state(self, state: Mapping[str, Any], batch: int, dtype: np.dtype) -> None:
        count = np.asarray(state.get("count", -1))
        if count.shape != () or count.dtype.kind not in "iu" or int(count) < 0:
            raise ValueError(f"state 'count' must be an integer >= 0 (the samples fed so far), "
                             f"got {state.get('count')!r}")
        self._buffers = self._make_buffers(batch * self.channels, dtype)
        for name, array, base, pos, j, most in self._lines():
            if name not in state:
                continue
            values = np.asarray(state[name])
            if values.dtype != dtype or values.shape[:2] != (batch, self.channels) or \
                    values.ndim != 3 or values.shape[2] > most:
                raise ValueError(f"state {name!r} must be {dtype} of shape ({batch}, "
                                 f"{self.channels}, <= {most}), got {values.dtype} "
                                 f"{values.shape}")
            n = values.shape[2]
            array[:, base[j] : base[j] + n] = values.reshape(batch * self.channels, n)
            pos[j] = (0, n)
        self._count = int(count)

    def reset(self) -> None:
        super().reset()
        self._buffers = None
        self._count = 0


class AtrousTransform:
    """The forward transform as an operator: offline call, ``.stream()``, ``.spec``.

    ``op(x)`` is ``atrous(x, ...).stack()`` (time last) and equals what ``op.stream()``
    returns chunk by chunk; the options are those of ``AtrousStream``.

    Shape: ``(T,)``, ``(C, T)`` or ``(B, C, T)`` in; ``(levels + 1, *x.shape)`` out.
    """

    def __init__(self, wavelet: WaveletLike, levels: int, alignment: str = "causal",
                 boundary: str = "zero", norm: bool = False, channels: int = 1) -> None:
        self.bank = filter_bank(wavelet)
        self.levels = positive_int(levels, "levels")
        check_stream_options(alignment, boundary)
        self.alignment, self.boundary, self.norm = alignment, boundary, bool(norm)
        self.channels = positive_int(channels, "channels")

    @property
    def spec(self) -> Branches:
        return atrous_spec(self.bank, self.levels, self.alignment)

    @property
    def latency(self) -> int:
        return self.stream().latency

    def __call__(self, x) -> np.ndarray:
        return atrous(x, self.bank, self.levels, self.alignment, self.boundary, self.norm).stack()

    def stream(self, batch: int | None = None) -> AtrousStream:
        return AtrousStream(self.bank, self.levels, self.alignment, self.boundary, self.norm,
                            self.channels, batch)


class InverseAtrousStream(Stream):
    """The inverse of a difference bank's transform, chunk by chunk: ``c_J + sum_j w_j``.

    Zero latency, exact for every alignment and boundary (the sum is per sample). An SWT
    bank (db, sym, coif, haar, user pairs) cannot be inverted in a stream: its synthesis
    at sample n reads coefficients up to ``(K-1)(2^J-1)`` samples away, which near the end
    of a stream do not exist; ``wavedil.DenoiseStream`` runs the whole chain
    (analysis, thresholds, synthesis) instead, with that latency.

    Shape: ``(levels + 1, *chunk_shape)`` in (as ``AtrousStream`` gives), ``chunk_shape`` out.
    """

    def __init__(self, wavelet: WaveletLike, levels: int, norm: bool = False, channels: int = 1,
                 batch: int | None = None) -> None:
        self.bank = filter_bank(wavelet)
        if not self.bank.difference:
            raise ValueError(
                f"InverseAtrousStream needs a difference bank ('starlet', 'linear'), got "
                f"{self.bank.name!r}: an SWT synthesis at sample n reads coefficients up to "
                f"(K-1)(2^J-1) samples later, which do not exist at the end of a stream; use "
                f"DenoiseStream for analysis-threshold-synthesis chains, or "
                f"wavedil.wavelets.transform.iatrous offline (periodic boundary)")
        self.levels = positive_int(levels, "levels")
        self.norm = bool(norm)
        self.channels = positive_int(channels, "channels")
        self._signal_ndim = None
        super().__init__((self.levels + 1) * self.channels, self.channels, 0, batch)

    def process(self, coefficients: npt.ArrayLike) -> np.ndarray:
        """Feed ``(levels + 1, *chunk_shape)`` coefficients; return the signal chunk."""
        c = as_float_array(coefficients, "coefficients")
        if c.ndim not in (2, 3, 4) or c.shape[0] != self.levels + 1:
            raise ValueError(f"expected coefficients of shape ({self.levels + 1}, [B,] [C,] m), "
                             f"got shape {c.shape}")
        if self._signal_ndim not in (None, c.ndim - 1):
            raise ValueError(f"this stream carries {self._signal_ndim}-D signal chunks, got "
                             f"coefficients of shape {c.shape}")
        if c.ndim == 4:  # (J+1, B, C, m) -> (B, (J+1) C, m)
            chunk = np.ascontiguousarray(c.swapaxes(0, 1))
            chunk = chunk.reshape(c.shape[1], c.shape[0] * c.shape[2], c.shape[-1])
        else:  # (J+1, m) or (J+1, C, m) -> ((J+1) C, m)
            chunk = c.reshape(math.prod(c.shape[:-1]), c.shape[-1])
        y = super().process(chunk)
        self._signal_ndim = c.ndim - 1
        return y[0] if self._signal_ndim == 1 else y

    def flush(self) -> np.ndarray:
        y = super().flush()
        return y[0] if self._signal_ndim == 1 else y

    def reset(self) -> None:
        super().reset()
        self._signal_ndim = None

    def config(self) -> dict:
        return {"op": "InverseAtrousStream", "wavelet": self.bank.name,
                "dec_lo": self.bank.dec_lo.tolist(), "levels": self.levels, "norm": self.norm,
                "channels": self.channels}

    def step(self, x: np.ndarray) -> np.ndarray:
        batch, m = x.shape[0], x.shape[-1]
        parts = x.reshape(batch, self.levels + 1, self.channels, m)
        c = parts[:, self.levels].copy()
        root2 = math.sqrt(2)
        for j in range(self.levels - 1, -1, -1):
            c += parts[:, j]
            if self.norm:
                c *= root2
        return c
