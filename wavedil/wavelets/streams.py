"""Real-time à trous transforms: the forward and its inverse, as streams.

``AtrousStream`` runs a chunk through every level in one compiled call
(``wavedil.engine.compiled.stream_levels``): level j keeps the last ``(K-1) 2^(j-1)``
samples of its input c_{j-1} in a ``History`` (one of a ``HistoryArena``, whose arrays the
kernel reads and writes in place; ``AtrousState`` holds them), filters them with the
engine's dilated cross-correlation (the layers of ``wavedil.wavelets.transform.level_layers``,
the lowpass and highpass from one read), and hands c_j to level j+1; so the work per chunk
grows with the chunk and the taps, never with the dilation, and no Python runs per level.
Level j's coefficients come out ``R_j = right_1 + ... + right_j`` samples late (0 for the
causal alignment); the outputs of the shallower levels wait in delay lines (histories of
the same arena kind) so that all coefficients of one sample come out together,
``latency = R_J`` samples after their input (the streaming contract of
``wavedil.engine.stream``: process, then flush, concatenated, equals ``wavedil.atrous``
with the same options).

Output layout: a chunk of ``(levels + 1, *chunk_layout)``: ``w_1 .. w_J`` then ``c_J``,
as ``AtrousResult.stack()``; ``chunk_layout`` is the layout of the input chunks (``(m,)``,
``(C, m)`` or ``(B, C, m)``).

Boundaries are ``"zero"`` and ``"edge"`` (what a stream can know: the first sample at the
start, the last at the end), applied per level as offline.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..engine.checks import positive_int
from ..engine.conv import ConvStream, checked_history
from ..engine.finite import as_signal
from ..engine.history import DelayLine, History, HistoryArena
from ..engine.params import check_budget, flag
from ..engine.spec import Branches
from ..engine.state import (
    INTEGER,
    ArraySpec,
    check_delay_lines,
    count_spec,
    history_spec,
    scalar,
)
from ..engine.stream import Layout, Stream, single_consumer
from .banks import WaveletLike, filter_bank
from .guards import check_levels, check_stream_levels
from .transform import (
    ALIGNMENTS,
    atrous,
    atrous_spec,
    level_extent,
    reconstruction_gain,
    synthesis_layers,
)

STREAM_BOUNDARIES = ("zero", "edge")
_PIECE = 4096  # the longest piece of a chunk one kernel call takes (bounds the buffers)


def check_stream_options(alignment: str, boundary: str) -> None:
    """Refuse an alignment or a boundary that a stream cannot run (ValueError)."""
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    if boundary not in STREAM_BOUNDARIES:
        raise ValueError(f"a stream's boundary must be one of {STREAM_BOUNDARIES} (periodic, "
                         f"symmetric and reflect need the whole signal), got {boundary!r}")


@dataclass
class AtrousState:
    """What an ``AtrousStream`` remembers, in the arrays its compiled kernel reads and writes
    (``wavedil.engine.compiled.stream_levels``); made for one batch size and dtype."""

    histories: HistoryArena  # level j: the last span_j samples of its input c_{j-1}
    lines: HistoryArena  # level j: w_j waiting R_J - R_j samples for the deepest level
    lowpass: np.ndarray  # the taps in the stream's dtype, reversed (a correlation)
    highpass: np.ndarray  # empty for a difference bank (w_j = scale c_{j-1} - c_j)
    scale: np.generic  # 1, or 1/sqrt(2) per level for MODWT
    c_scratch: np.ndarray  # (rows, room): c_j on its way to level j+1
    w_scratch: np.ndarray  # (rows, room): w_j on its way to its delay line
    count: int = 0  # samples fed so far
    # stream_levels's parameters from lo_taps to w_tmp: lowpass, highpass, scale, the
    # histories' (buffer, base, positions), the lines', c_scratch, w_scratch
    kernel_arrays: tuple[np.ndarray, np.ndarray, np.generic, np.ndarray, np.ndarray, np.ndarray,
                         np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] = \
        field(init=False, repr=False)

    def __post_init__(self) -> None:
        # stream_levels's parameters from lo_taps to w_tmp, in its order: one tuple, made
        # once (numba takes flat arrays faster than tuples or keywords)
        self.kernel_arrays = (self.lowpass, self.highpass, self.scale, *self.histories.arrays,
                              *self.lines.arrays, self.c_scratch, self.w_scratch)


@dataclass
class InverseState:
    """What an ``InverseAtrousStream`` remembers besides its synthesis filters' histories:
    its chunks' layout (``(levels + 1, m)`` coefficients give ``(m,)`` chunks,
    ``(levels + 1, C, m)`` give ``(C, m)``; the base layout sees ``((levels + 1) C, m)`` for
    both) and, for an SWT bank, per level the details w_j waiting for the coarser levels'
    synthesis to reach them (none for a difference bank)."""

    signal_ndim: int | None = None
    lags: list[DelayLine] = field(default_factory=list)


class BandedStream(Stream):
    """A stream whose output chunks carry a leading band axis, ``(bands, *chunk_layout)``
    (the levels of ``AtrousStream``, the scales of ``wavedil.CWTStream``): ``restore``
    gives the input chunks' layout back behind that axis, and a stream flushed before any
    chunk returns ``(bands, [C,] 0)`` of ``empty_dtype``. A subclass defines ``bands`` and
    ``channels``."""

    empty_dtype: type = np.float64
    channels: int

    @property
    def bands(self) -> int:
        raise NotImplementedError

    def restore(self, y: np.ndarray) -> np.ndarray:
        """A ``(bands, B, C, m)`` output in the chunks' layout: ``(bands, m)``, ``(bands, C, m)`` or
        as it is."""
        assert self.layout is not None
        ndim = self.layout.ndim
        return y if ndim == 3 else y[:, 0, 0] if ndim == 1 else y[:, 0]

    @single_consumer
    def flush(self) -> np.ndarray:
        """End the stream: the last ``latency`` samples, ``(bands, *chunk_shape)``; before any
        chunk, ``(bands, [C,] 0)`` of ``empty_dtype``."""
        if self.layout is None and not self.flushed and self.batch is None:
            self.flushed = True
            shape = (self.bands,) + ((0,) if self.channels == 1 else (self.channels, 0))
            return np.zeros(shape, self.empty_dtype)
        return super().flush()


class AtrousStream(BandedStream):
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

    state: AtrousState  # set by start (the base class's protocol), before any step

    def __init__(self, wavelet: WaveletLike, levels: int, alignment: str = "causal",
                 boundary: str = "zero", norm: bool = False, channels: int = 1,
                 batch: int | None = None) -> None:
        self.bank = filter_bank(wavelet)
        self.levels = check_stream_levels(self.bank, levels, "AtrousStream")
        check_stream_options(alignment, boundary)
        self.alignment, self.boundary, self.norm = alignment, boundary, flag(norm, "norm")
        self.channels = positive_int(channels, "channels")
        extents = [level_extent(self.bank, j, alignment) for j in range(1, self.levels + 1)]
        delays = np.cumsum([right for _, right in extents])  # R_j: level j's own delay
        latency = int(delays[-1])
        # per level: (left, right, dilation, wait of w_j in its delay line = R_J - R_j)
        self._geometry = np.array([(left, right, 2 ** j, latency - delay) for j, ((left, right),
                                   delay) in enumerate(zip(extents, delays))], np.int64)
        super().__init__(self.channels, (self.levels + 1) * self.channels, latency, batch)

    @property
    def spec(self) -> Branches:
        """The spec tree (one path per level) for ``wavedil.receptive_field`` and
        ``wavedil.halo``."""
        return atrous_spec(self.bank, self.levels, self.alignment)

    def __repr__(self) -> str:
        return (f"AtrousStream({self.bank.name!r}, levels={self.levels}, "
                f"alignment={self.alignment!r}, boundary={self.boundary!r}, norm={self.norm}, "
                f"channels={self.channels}, latency={self.latency})")

    # -- the kernel's state -----------------------------------------------------------------
    def new_state(self, batch: int, dtype: np.dtype) -> AtrousState:
        """Empty histories and delay lines for ``batch * channels`` rows, scratch, filters."""
        rows = batch * self.channels
        left, right, _, wait = self._geometry.T
        span, room = left + right, max(_PIECE, self.latency)
        # level j takes at most a piece, or R_j = latency - wait_j samples when flushed:
        # room for its kept span, its left boundary, that much, and as much again
        history_sizes = 2 * span + left + np.maximum(_PIECE, self.latency - wait)
        line_sizes = np.where(wait > 0, 2 * wait + room, 0)
        scale = 1 / math.sqrt(2) if self.norm else 1.0
        lo = np.ascontiguousarray(self.bank.dec_lo[::-1] * scale, dtype)
        hi = np.zeros(0, dtype) if self.bank.difference else \
            np.ascontiguousarray(self.bank.dec_hi[::-1] * scale, dtype)
        return AtrousState(
            histories=HistoryArena(rows, span, history_sizes, dtype),
            lines=HistoryArena(rows, wait, line_sizes, dtype),
            lowpass=lo, highpass=hi, scale=dtype.type(scale),
            c_scratch=np.zeros((rows, room), dtype), w_scratch=np.zeros((rows, room), dtype))

    def _run(self, x: np.ndarray, final: bool) -> np.ndarray:
        """``x`` ``(rows, m)`` through every level: ``(levels + 1, rows, m_out)``."""
        from ..engine.compiled import stream_levels  # numba, on first use

        state = self.state
        m = x.shape[1]
        done, count = max(0, state.count - self.latency), state.count + m
        m_out = count - done if final else max(0, count - self.latency) - done
        out = np.empty((self.levels + 1, x.shape[0], m_out), x.dtype)
        stream_levels(x, final, self.boundary == "edge", self._geometry,
                      *state.kernel_arrays, out)
        state.count = count
        return out

    # -- Stream hooks -----------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Stream hook: the configuration as JSON (a saved state must come from the same one)."""
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
        """Stream hook: the last ``latency`` samples, ``(levels + 1, B, C, latency)``."""
        assert self.layout is not None
        batch, dtype = self.layout.batch, self.layout.dtype
        y = self._run(np.zeros((batch * self.channels, 0), dtype), True)
        return y.reshape(self.levels + 1, batch, self.channels, y.shape[-1])


    @property
    def bands(self) -> int:
        """Coefficient rows per sample: ``w_1 .. w_J`` and ``c_J``."""
        return self.levels + 1

    def _named(self) -> Iterator[tuple[str, History, int]]:
        """``(state key, history, most samples)`` of every level's history and delay line."""
        for j in range(self.levels):
            span, wait = int(self._geometry[j, 0] + self._geometry[j, 1]), \
                int(self._geometry[j, 3])
            yield f"level{j + 1}.history", self.state.histories[j], span
            if wait:
                yield f"out{j + 1}.pending", self.state.lines[j], wait

    def export_state(self) -> dict[str, np.ndarray]:
        """Stream hook: the samples fed (``count``) and every level's history and delay line,
        ``(B, C, n)``."""
        assert self.layout is not None
        state = {"count": np.array(self.state.count, np.int64)}
        for name, history, _ in self._named():
            # a level's history is saved from its first sample on, a delay line always
            if len(history) or name.startswith("out"):
                values = history.recent().reshape(self.layout.batch, self.channels, -1)
                state[name] = values.copy()
        return state

    def state_spec(self, layout: Layout) -> dict[str, ArraySpec | None]:
        """``count`` (samples fed), each level's history (from its first sample on) and
        each delay line (always): ``(B, C, n)``, their lengths set by ``count``."""
        spec: dict[str, ArraySpec | None] = {"count": count_spec()}
        batch, channels, dtype = layout.batch, self.channels, layout.dtype
        for j, (left, right, _, wait) in enumerate(self._geometry.tolist()):
            spec[f"level{j + 1}.history"] = history_spec(batch, channels, left + right, dtype)
            if wait:
                spec[f"out{j + 1}.pending"] = history_spec(batch, channels, wait, dtype,
                                                           required=True)
        return spec

    def check_state(self, arrays: Mapping[str, Any], layout: Layout) -> None:
        """Every history and delay line holds what ``count`` samples leave in it: level j
        sees ``a = count - R_(j-1)`` samples (``R``: the levels' summed delays) and keeps
        ``min(span, left + a)`` once ``a >= 1``; its details wait ``min(wait, count - R_j)``."""
        count, delay = scalar(arrays, "count"), 0
        for j, (left, right, _, wait) in enumerate(self._geometry.tolist()):
            seen, span = count - delay, left + right
            name = f"level{j + 1}.history"
            want = min(span, left + seen) if seen >= 1 else None
            held = np.shape(arrays[name])[-1] if name in arrays else None
            if held != want:
                raise ValueError(f"state '{name}' holds {held} samples, expected {want} "
                                 f"(None: absent) after 'count' = {count} samples fed")
            delay += right
            if wait:
                check_delay_lines(arrays, {f"out{j + 1}.pending": wait}, max(0, count - delay),
                                  f", from 'count' = {count} samples fed")

    def import_state(self, state: Mapping[str, Any], batch: int, dtype: np.dtype) -> None:
        """Stream hook: load what ``export_state`` gave (shapes and dtype checked)."""
        count = np.asarray(state.get("count", -1))
        if count.shape != () or count.dtype.kind not in "iu" or int(count) < 0:
            raise ValueError(f"state 'count' must be an integer >= 0 (the samples fed so far), "
                             f"got {state.get('count')!r}")
        for name, history, most in self._named():
            if name in state:
                values = np.asarray(state[name])
                if values.dtype != dtype or values.shape[:2] != (batch, self.channels) or \
                        values.ndim != 3 or values.shape[2] > most:
                    raise ValueError(f"state {name!r} must be {dtype} of shape ({batch}, "
                                     f"{self.channels}, <= {most}), got {values.dtype} "
                                     f"{values.shape}")
                history.load(values.reshape(batch * self.channels, values.shape[2]))
        self.state.count = int(count)


def synthesis_geometry(synthesis: list[tuple[ConvStream, ConvStream]], lags: list[int],
                       prefix: str = "") -> dict[str, tuple[int, int, int]]:
    """Per synthesis conv: its history's state key and ``(left, span, lag)``."""
    return {f"{prefix}synthesis_{side}{j + 1}.history": (conv.layer.left, conv.layer.span, lag)
            for j, (pair, lag) in enumerate(zip(synthesis, lags))
            for side, conv in zip(("lo", "hi"), pair)}


def check_synthesis(arrays: Mapping[str, Any], geometry: Mapping[str, tuple[int, int, int]],
                    passed: int | None, source: str = "") -> int | None:
    """The synthesis convs' histories (``synthesis_geometry``) after ``passed`` coefficients
    (None: unknown; found from a history that is not full, if any). A conv whose delay line
    holds ``lag`` sees ``seen = passed - lag`` of them and keeps ``min(span, left + seen)``
    once ``seen >= 1``, nothing before. Returns ``passed`` (None: at least the longest lag,
    every history full)."""
    held = {key: np.shape(arrays[key])[-1] if key in arrays else None for key in geometry}
    if passed is None:
        for key, (left, span, lag) in geometry.items():
            n = held[key]
            if n is not None and n < span:
                passed, source = lag + n - left, f", as '{key}' holds {n}"
                break
    if passed is None:
        longest = max((lag for _, _, lag in geometry.values()), default=0)
        for key, (_, _, lag) in geometry.items():
            level = [k for k, (_, _, other) in geometry.items() if other == lag]
            if held[key] is None and (lag < longest or any(held[k] for k in level)):
                raise ValueError(f"state is missing '{key}' (its delay {lag}: it has seen "
                                 f"coefficients, as the other synthesis filters have)")
        return None
    for key, (left, span, lag) in geometry.items():
        seen = passed - lag
        want = min(span, left + seen) if seen >= 1 else None
        if held[key] != want:
            raise ValueError(f"state '{key}' holds {held[key]} samples, expected {want} "
                             f"(None: absent) after {passed} coefficients passed{source} "
                             f"(its delay {lag})")
    return passed


class AtrousTransform:
    """The forward transform as an operator: offline call, ``.stream()``, ``.spec``.

    ``op(x)`` is ``atrous(x, ..., axis=axis).stack()`` and equals what ``op.stream()``
    returns chunk by chunk; the options are those of ``AtrousStream``. ``axis`` is where
    time runs in ``op(x)``'s input (``axis=0`` for soundfile's ``(frames, channels)``; the
    output is ``(levels + 1, *x.shape)`` either way); a stream takes its chunks time last,
    ``(m,)``, ``(C, m)`` or ``(B, C, m)`` (a ``(m, C)`` block goes in as ``block.T``). A
    2-D ``x`` with ``channels`` rows is taken as ``(C, T)``; any other 2-D ``x`` with the
    default ``axis=-1`` goes through ``atrous``'s layout guard.

    Shape: ``(T,)``, ``(C, T)`` or ``(B, C, T)`` in (time on ``axis``);
    ``(levels + 1, *x.shape)`` out.
    """

    def __init__(self, wavelet: WaveletLike, levels: int, alignment: str = "causal",
                 boundary: str = "zero", norm: bool = False, channels: int = 1,
                 axis: int = -1) -> None:
        self.bank = filter_bank(wavelet)
        self.levels = check_levels(levels)
        check_stream_options(alignment, boundary)
        self.alignment, self.boundary, self.norm = alignment, boundary, flag(norm, "norm")
        self.channels = positive_int(channels, "channels")
        self.axis = int(axis)

    @property
    def spec(self) -> Branches:
        """The spec tree (one path per level) for ``wavedil.receptive_field`` and
        ``wavedil.halo``."""
        return atrous_spec(self.bank, self.levels, self.alignment)

    @property
    def latency(self) -> int:
        """``R_J``: the sum of the levels' lookahead (what ``op.stream()`` reports)."""
        return sum(level_extent(self.bank, j, self.alignment)[1]
                   for j in range(1, self.levels + 1))

    def __repr__(self) -> str:
        axis = "" if self.axis == -1 else f", axis={self.axis}"
        return (f"AtrousTransform({self.bank.name!r}, levels={self.levels}, "
                f"alignment={self.alignment!r}, boundary={self.boundary!r}, norm={self.norm}, "
                f"channels={self.channels}{axis}, latency={self.latency})")

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        x = as_signal(x, "x")
        axis = self.axis
        if x.ndim == 2 and axis == -1 and x.shape[0] == self.channels:
            axis = 1  # (C, T) as declared: atrous's guard is for layouts it must guess
        return atrous(x, self.bank, self.levels, self.alignment, self.boundary, self.norm,
                      axis).stack()

    def stream(self, batch: int | None = None) -> AtrousStream:
        """A fresh ``AtrousStream`` with these options; ``batch`` fixes the batch size of 3-D
        chunks."""
        return AtrousStream(self.bank, self.levels, self.alignment, self.boundary, self.norm,
                            self.channels, batch)


class InverseAtrousStream(Stream):
    """The inverse transform, chunk by chunk, for every perfect-reconstruction bank.

    A difference bank (``"starlet"``, ``"linear"``) sums ``c_J + sum_j w_j`` sample by
    sample: latency 0, exact for every alignment and boundary of the forward transform.

    An SWT bank (haar, db, sym, coif, user pairs, biorthogonal pairs) takes the coefficients
    of the causal forward transform, ``AtrousStream(wavelet, levels, alignment="causal",
    norm=norm)`` (coefficient index n holds every level at sample n), and runs the synthesis
    of ``wavedil.wavelets.transform.synthesis_layers`` from level J down to 1::

        c_{j-1}[n] = (sum_s rec_lo[s] c_j[n + S_j - d s] + rec_hi[s] w_j[n + S_j - d s]) / gain

    with ``d = 2^(j-1)``, ``S_j = (K-1) d`` and ``gain = reconstruction_gain(wavelet,
    norm)``; level j reads S_j coefficients ahead, so the latency is
    ``sum_j S_j = (K-1)(2^J - 1)`` (details wait in delay lines for the coarser levels).
    After the last chunk the coefficients are zero (the zero boundary of every stream):
    ``flush`` returns the synthesis of the last ``latency`` samples from them. So the
    output is ``c_0[0 .. T)`` for coefficients ``(w_1 .. w_J, c_J)[0 .. T)`` followed by
    zeros, and a forward → inverse pair returns every sample that has ``latency``
    coefficients after it exactly: to end one exactly, feed the forward ``latency`` zero
    samples before flushing (``wavedil.Resynthesis`` does). Recovering the last samples
    from the causal coefficients alone is ill-conditioned (the newest samples barely reach
    them: condition numbers about 4e3 for db4, 5e7 for sym8, and any processing of the
    coefficients would be amplified as much), hence the zero boundary.

    Shape: ``(levels + 1, *chunk_shape)`` in (as ``AtrousStream`` gives), ``chunk_shape`` out.
    """

    state: InverseState  # set by start (the base class's protocol), before any step

    def __init__(self, wavelet: WaveletLike, levels: int, norm: bool = False, channels: int = 1,
                 batch: int | None = None) -> None:
        self.bank = filter_bank(wavelet)
        self.levels = check_stream_levels(self.bank, levels, "InverseAtrousStream", copies=2)
        self.norm = flag(norm, "norm")
        self.channels = positive_int(channels, "channels")
        check_budget(8.0 * 2 * self.levels * self.channels * self.bank.length,
                     f"InverseAtrousStream with channels={self.channels}: synthesis filters of "
                     f"{self.bank.length} taps x {self.levels} level(s) x 2 per channel",
                     "use fewer channels (or one stream per group of channels)")
        self._synthesis: list[tuple[ConvStream, ConvStream]] = []  # per level: (lo, hi)
        self._lags: list[int] = []  # per level: the delay that aligns w_j with c_j
        latency = 0
        if not self.bank.difference:
            self._inverse_gain = 1 / reconstruction_gain(self.bank, self.norm)  # or ValueError
            for j in range(self.levels, 0, -1):
                lo, hi = synthesis_layers(self.bank, j, "causal", self.norm, self.channels)
                self._synthesis.insert(0, (lo.stream(), hi.stream()))
                self._lags.insert(0, latency)
                latency += lo.right
        super().__init__((self.levels + 1) * self.channels, self.channels, latency, batch)

    def __repr__(self) -> str:
        return (f"InverseAtrousStream({self.bank.name!r}, levels={self.levels}, "
                f"norm={self.norm}, channels={self.channels}, latency={self.latency})")

    def children(self) -> dict[str, Stream]:
        """Stream hook: the synthesis filters' streams, ``synthesis_lo{j}`` and ``synthesis_hi{j}``
        (none for a difference bank)."""
        parts: dict[str, Stream] = {}
        for j, (lo, hi) in enumerate(self._synthesis):
            parts[f"synthesis_lo{j + 1}"] = lo
            parts[f"synthesis_hi{j + 1}"] = hi
        return parts

    def new_state(self, batch: int, dtype: np.dtype) -> InverseState:
        """Stream hook: empty delay lines for the details, ``(batch, C)`` rows of ``dtype``."""
        return InverseState(lags=[DelayLine((batch, self.channels), lag, dtype)
                                  for lag in self._lags])

    @single_consumer
    def process(self, coefficients: npt.ArrayLike) -> np.ndarray:
        """Feed ``(levels + 1, *chunk_shape)`` coefficients; return the signal chunk."""
        c = as_signal(coefficients, "coefficients")
        if c.ndim not in (2, 3, 4) or c.shape[0] != self.levels + 1:
            raise ValueError(f"expected coefficients of shape ({self.levels + 1}, [B,] [C,] m), "
                             f"got shape {c.shape}")
        carried = None if self.state is None else self.state.signal_ndim
        if carried not in (None, c.ndim - 1):
            raise ValueError(f"this stream carries {carried}-D signal chunks, got "
                             f"coefficients of shape {c.shape}")
        if c.ndim == 4:  # (J+1, B, C, m) -> (B, (J+1) C, m)
            chunk = np.ascontiguousarray(c.swapaxes(0, 1))
            chunk = chunk.reshape(c.shape[1], c.shape[0] * c.shape[2], c.shape[-1])
        else:  # (J+1, m) or (J+1, C, m) -> ((J+1) C, m)
            chunk = c.reshape(math.prod(c.shape[:-1]), c.shape[-1])
        y = super().process(chunk)
        self.state.signal_ndim = c.ndim - 1
        return y[0] if self.state.signal_ndim == 1 else y

    @single_consumer
    def flush(self) -> np.ndarray:
        """End the stream: the synthesis of the last ``latency`` samples, in the signal chunks'
        layout ``(n,)``, ``(C, n)`` or ``(B, C, n)``."""
        y = super().flush()
        return y[0] if self.state.signal_ndim == 1 else y

    def export_state(self) -> dict[str, np.ndarray]:
        """Stream hook: the signal chunks' dimensions and the details waiting in the delay lines,
        ``(B, C, lag)``."""
        state = {}
        if self.state.signal_ndim is not None:
            state["signal_ndim"] = np.array(self.state.signal_ndim, np.int64)
        for j, lag in enumerate(self.state.lags):
            if lag.delay:
                state[f"lag{j + 1}.pending"] = lag.recent().copy()
        return state

    def state_spec(self, layout: Layout) -> dict[str, ArraySpec | None]:
        """``signal_ndim`` (once a chunk came) and each level's delay line ``(B, C, n)``."""
        spec: dict[str, ArraySpec | None] = {
            "signal_ndim": ArraySpec((), INTEGER, required=False, low=1, high=3)}
        for key, lag in self.delay_lines().items():
            spec[key] = history_spec(layout.batch, self.channels, lag, layout.dtype,
                                     required=True)
        return spec

    @property
    def lags(self) -> list[int]:
        """Per level: the delay that aligns w_j with c_j (none for a difference bank)."""
        return list(self._lags)

    def delay_lines(self) -> dict[str, int]:
        """The state key and delay of every level's delay line (levels with a delay)."""
        return {f"lag{j + 1}.pending": lag for j, lag in enumerate(self._lags) if lag}

    def synthesis_geometry(self, prefix: str = "") -> dict[str, tuple[int, int, int]]:
        """Per synthesis conv: its history's state key and ``(left, span, lag)``."""
        return synthesis_geometry(self._synthesis, self._lags, prefix)

    def check_state(self, arrays: Mapping[str, Any], layout: Layout) -> None:
        """The delay lines and synthesis filters agree on the samples fed; ``signal_ndim``
        fits the layout."""
        fed = check_delay_lines(arrays, self.delay_lines())
        fed = check_synthesis(arrays, self.synthesis_geometry(), fed)
        if fed is not None:
            check_delay_lines(arrays, self.delay_lines(), fed, f" ({fed} coefficients fed)")
        ndim = scalar(arrays, "signal_ndim", layout.ndim)
        if (ndim == 3) != (layout.ndim == 3) or (ndim == 1 and self.channels != 1):
            raise ValueError(f"state 'signal_ndim' {ndim} does not fit {layout.ndim}-D "
                             f"coefficient chunks of {self.channels} channel(s)")

    def import_state(self, arrays: Mapping[str, Any], batch: int, dtype: np.dtype) -> None:
        """Stream hook: load what ``export_state`` gave (shapes and dtype checked)."""
        for j, lag in enumerate(self.state.lags):
            name = f"lag{j + 1}.pending"
            if name in arrays:
                lag.load(checked_history(arrays[name], name, dtype,
                                         (batch, self.channels, lag.delay)))
        if "signal_ndim" not in arrays:
            return
        ndim = np.asarray(arrays["signal_ndim"])
        if ndim.shape != () or ndim.dtype.kind not in "iu" or int(ndim) not in (1, 2, 3):
            raise ValueError(f"state 'signal_ndim' must be 1, 2 or 3 (the signal chunks' "
                             f"dimensions), got {arrays['signal_ndim']!r}")
        self.state.signal_ndim = int(ndim)

    def config(self) -> dict[str, Any]:
        """Stream hook: the configuration as JSON (a saved state must come from the same one)."""
        return {"op": "InverseAtrousStream", "wavelet": self.bank.name,
                "dec_lo": self.bank.dec_lo.tolist(), "levels": self.levels, "norm": self.norm,
                "channels": self.channels}

    def step(self, x: np.ndarray) -> np.ndarray:
        """``(B, (levels + 1) C, m)`` coefficients in (``w_1 .. w_J, c_J``, each C channels),
        the ready ``(B, C, m')`` signal out."""
        batch, m = x.shape[0], x.shape[-1]
        parts = x.reshape(batch, self.levels + 1, self.channels, m)
        if not self.bank.difference:
            c = np.ascontiguousarray(parts[:, self.levels])
            for j in range(self.levels - 1, -1, -1):
                lo, hi = self._synthesis[j]
                w = self.state.lags[j].push(np.ascontiguousarray(parts[:, j]))
                c = lo.step(c) + hi.step(w)
                c *= self._inverse_gain
            return c
        c = parts[:, self.levels].copy()
        root2 = math.sqrt(2)
        for j in range(self.levels - 1, -1, -1):
            c += parts[:, j]
            if self.norm:
                c *= root2
        return c

    def finish(self) -> np.ndarray:
        """The last ``latency`` samples: the synthesis fed ``latency`` zero coefficients."""
        assert self.layout is not None
        zeros = np.zeros((self.layout.batch, self.in_channels, self.latency), self.layout.dtype)
        return self.step(zeros)
