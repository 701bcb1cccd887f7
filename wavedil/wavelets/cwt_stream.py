"""The continuous wavelet transform in real time: ``CWTStream`` and its engine ``Cascade``.

One engine serves the offline call and the stream (``Cascade``): the signal, extended by
its boundary (``pad_left`` samples before, ``latency`` after), arrives in pieces; level l
of the lowpass cascade (``wavedil.wavelets.cwt_plan``) keeps the samples of x_l that its
readers still need in a ``wavedil.engine.History`` (the lowpass of level l+1 reads the last
``(K-1) 2^l``; a band reads as far back as its window and the wait for the slowest band
reach), computes what the new samples of x_(l-1) allow, and every band of every level then
writes the outputs that all bands can compute. So the work per chunk grows with the chunk
and the taps, never with the dilation; every output is one fixed sum (the compiled loops of
``wavedil.engine.compiled``), and any chunking gives the offline result bit for bit.
``DecimatedCWTStream`` (``wavedil.wavelets.cwt_decimated``) is this stream on the
decimated engine (``new_cascade``): octave j every 2^j samples.

Latency: the largest lookahead of a band (0 when causal); the stream holds back that many
samples and ``flush`` returns them (the boundary's ``latency`` samples fed to the cascade).

Output layout: a chunk of ``(bands, *chunk_layout)`` complex (``complex64`` for float32
chunks, ``complex128`` for float64), bands ordered by increasing scale.

Boundaries: ``"zero"`` and ``"edge"`` (the first sample repeated before the start, the last
after the end); the offline ``wavedil.cwt`` adds ``"periodic"``, ``"symmetric"`` and
``"reflect"`` (numpy's ``wrap``, ``symmetric``, ``reflect`` padding of x).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.checks import positive_int
from ..engine.history import History
from ..engine.spec import Branches
from ..engine.state import INTEGER, ArraySpec, count_spec, history_spec, scalar
from ..engine.stream import Layout
from .cwt_plan import CWTPlan, make_plan
from .cwt_wavelets import WaveletLike
from .streams import STREAM_BOUNDARIES, BandedStream

_PAD_MODES = {"zero": "constant", "edge": "edge", "periodic": "wrap",
              "symmetric": "symmetric", "reflect": "reflect"}


def pad_mode(boundary: str, length: int) -> Any:
    """numpy's ``pad`` mode of a ``wavedil.cwt`` boundary (one sample reflects as edge)."""
    return "edge" if boundary == "reflect" and length < 2 else _PAD_MODES[boundary]
PIECE = 4096  # the most samples of x one pass of the cascade takes (bounds its buffers)


def complex_dtype(dtype: np.dtype) -> np.dtype:
    """complex64 for float32, complex128 for float64."""
    return np.dtype(np.complex64 if dtype == np.float32 else np.complex128)


class Cascade:
    """The lowpass cascade and the bands of a ``CWTPlan`` over ``rows`` signals, fed the
    extended signal piece by piece (``advance``); x index 0 is ``pad_left`` samples in."""

    def __init__(self, plan: CWTPlan, rows: int, dtype: np.dtype) -> None:
        delays = self._start(plan, rows, dtype)
        depth, latency = plan.depth, plan.latency
        sizes = []
        self.groups: list[tuple[int, Any]] = []  # per level: (level, band arrays) or none
        for level in range(depth + 1):
            bands = np.nonzero(plan.levels == level)[0]
            keep = (plan.lowpass.size - 1) * 2**level if level < depth else 0
            for b in bands:  # a band reads back to done - left_b, done is hi_l + R_l - latency
                keep = max(keep, latency - delays[level] + plan.band_extent(int(b))[0])
            sizes.append(keep)
            if bands.size:
                self.groups.append((level, self._band_arrays(bands)))
        self.histories = [History((rows,), size, self.dtype) for size in sizes]
        self.lowpass = np.ascontiguousarray(plan.lowpass, self.dtype)

    def _start(self, plan: CWTPlan, rows: int, dtype: np.dtype) -> list[int]:
        """The geometry every cascade shares: ``pad_left``, each level's first index ``lo``
        (and ``hi``, where it ends so far), no output yet. Returns each level's delay ``R_l``
        (how late x_l is)."""
        self.plan, self.rows, self.dtype = plan, rows, np.dtype(dtype)
        self.pad_left = int(plan.reach[:, 0].max(initial=0))
        # x_l covers [lo_l, hi_l): x_0 starts pad_left before x[0], each lowpass eats its left
        lo = [-self.pad_left]
        for level in range(plan.depth):
            lo.append(lo[-1] + plan.lowpass_extent(level)[0])
        self.lo = lo
        self.hi = np.array(lo, np.int64)
        self.done = 0  # outputs written so far (x indices 0 .. done - 1)
        return [sum(plan.lowpass_extent(i)[1] for i in range(level))
                for level in range(plan.depth + 1)]

    def _band_arrays(self, bands: np.ndarray) -> tuple:
        plan = self.plan
        longest = max(plan.filters[b].size for b in bands)
        re = np.zeros((bands.size, longest), self.dtype)
        im = np.zeros((bands.size, longest), self.dtype)
        for i, b in enumerate(bands):
            taps = plan.filters[b]
            re[i, : taps.size], im[i, : taps.size] = taps.real, taps.imag
        lengths = np.array([plan.filters[b].size for b in bands], np.int64)
        lefts = np.array([plan.band_extent(int(b))[0] for b in bands], np.int64)
        rights = np.array([plan.band_extent(int(b))[1] for b in bands], np.int64)
        return bands.astype(np.int64), re, im, lengths, lefts, rights

    def outputs(self, start: int, stop: int) -> Any:
        """Room for the outputs ``start .. stop - 1``: ``(bands, rows, n)`` complex."""
        return np.empty((self.plan.bands, self.rows, max(0, stop - start)),
                        complex_dtype(self.dtype))

    def held(self, level: int, end: int) -> int:
        """The samples of x_level in ``[lo, end)`` (what its history has seen)."""
        return end - self.lo[level]

    def ready(self) -> int:
        """The x index up to which (exclusive) every band can compute."""
        return min(int(self.hi[level]) - int(arrays[5].max()) for level, arrays in self.groups)

    def advance(self, piece: np.ndarray, out: Any, base: int, limit: int) -> None:
        """Feed ``piece`` ``(rows, m)`` of the extended signal; write the outputs that are
        ready (and ``< limit``) to ``out[:, :, index - base]``."""
        from ..engine.compiled import complex_bands, strided_correlate

        plan = self.plan
        history = self.histories[0]
        views = [history.append(piece)]
        self.hi[0] += piece.shape[1]
        for level in range(plan.depth):
            left, right = plan.lowpass_extent(level)
            view = views[level]
            start, end = int(self.hi[level + 1]), int(self.hi[level]) - right
            target = self.histories[level + 1]
            kept = len(target)
            if end > start:
                view_start = int(self.hi[level]) - view.shape[1]
                slot = target.reserve(end - start)
                strided_correlate(view, start - left - view_start, 1, self.lowpass, 2**level,
                                  target.buffer, slot, end - start)
                self.hi[level + 1] = end
                views.append(target.buffer[:, slot - kept : slot + end - start])
            else:
                views.append(target.recent())
        stop = min(self.ready(), limit)
        n = stop - self.done
        if n <= 0:
            return
        for level, (bands, re, im, lengths, lefts, _) in self.groups:
            view = views[level]
            starts = self.done - lefts - (int(self.hi[level]) - view.shape[1])
            complex_bands(view, starts, 1, 2**level, re, im, lengths,
                          plan.wavelet.hermitian, bands, out, self.done - base, n)
        self.done = stop

    def run(self, extended: np.ndarray, out: Any, base: int, limit: int) -> None:
        """``advance`` over ``extended`` ``(rows, n)`` in pieces of at most ``PIECE``."""
        for start in range(0, extended.shape[1], PIECE):
            self.advance(extended[:, start : start + PIECE], out, base, limit)


def transform_rows(plan: CWTPlan, rows: np.ndarray, boundary: str) -> np.ndarray:
    """The offline transform of ``(rows, T)``: ``(bands, rows, T)`` complex (x extended by
    ``boundary``: any of numpy's ``pad`` modes named as ``wavedil.cwt``'s)."""
    length = rows.shape[1]
    out = np.empty((plan.bands, rows.shape[0], length), complex_dtype(rows.dtype))
    if length == 0:
        return out
    cascade = Cascade(plan, rows.shape[0], rows.dtype)
    extended = np.pad(rows, ((0, 0), (cascade.pad_left, plan.latency)),
                      mode=pad_mode(boundary, length))
    cascade.run(extended, out, 0, length)
    return out


@dataclass
class CWTState:
    """What a ``CWTStream`` remembers: its cascade (histories of every x_l, their ends, the
    outputs written), the samples fed and the last one (for the ``edge`` boundary)."""

    cascade: Cascade
    count: int = 0
    last: np.ndarray | None = None  # (rows,)


class CWTStream(BandedStream):
    """Holschneider's CWT chunk by chunk (see the module docstring); options as ``CWT``.

    Shape: chunks ``(m,)``, ``(C, m)`` or ``(B, C, m)`` in; ``(bands, *chunk_shape)``
    complex out.
    """

    empty_dtype = np.complex128

    state: CWTState

    def __init__(self, wavelet: WaveletLike = "morlet", octaves: int = 8, voices: int = 12,
                 scale0: float = 2.0, a0: float = 8.0, interpolator: int = 8,
                 alignment: str = "centered", boundary: str = "zero", channels: int = 1,
                 batch: int | None = None) -> None:
        if boundary not in STREAM_BOUNDARIES:
            raise ValueError(f"a stream's boundary must be one of {STREAM_BOUNDARIES} "
                             f"(periodic, symmetric and reflect need the whole signal: "
                             f"wavedil.cwt), got {boundary!r}")
        self.plan = make_plan(wavelet, octaves, voices, scale0, a0, interpolator, alignment)
        self.boundary = boundary
        self.channels = positive_int(channels, "channels")
        super().__init__(self.channels, self.plan.bands * self.channels, self.plan.latency,
                         batch)

    @property
    def spec(self) -> Branches:
        """The spec tree (one path per band) for ``wavedil.receptive_field`` and
        ``wavedil.halo``."""
        return self.plan.spec

    def __repr__(self) -> str:
        return f"CWTStream({_options(self.plan, self.boundary, self.channels)})"

    def config(self) -> dict[str, Any]:
        """Stream hook: the configuration as JSON (a saved state must come from the same one)."""
        plan = self.plan
        return {"op": "CWTStream", "wavelet": plan.wavelet.name, "omega": plan.wavelet.omega,
                "octaves": plan.octaves, "voices": plan.voices, "scale0": plan.scale0,
                "a0": plan.a0, "interpolator": plan.interpolator,
                "alignment": plan.alignment, "boundary": self.boundary,
                "channels": self.channels}

    def new_state(self, batch: int, dtype: np.dtype) -> CWTState:
        """Stream hook: a fresh cascade for ``batch * C`` rows of ``dtype``."""
        return CWTState(self.new_cascade(batch * self.channels, dtype))

    def new_cascade(self, rows: int, dtype: np.dtype) -> Cascade:
        """The engine of ``rows`` signals (``Cascade``; a subclass may run another)."""
        return Cascade(self.plan, rows, dtype)

    def _feed(self, x: np.ndarray, final: bool) -> Any:
        """``(rows, m)`` in (the pads added here), the cascade's outputs out
        (``Cascade.outputs``: ``(bands, rows, ready)``)."""
        state = self.state
        cascade = state.cascade
        count = state.count + x.shape[1]
        stop = count if final else max(0, count - self.latency)
        base = cascade.done
        out = cascade.outputs(base, stop)
        if count == 0:
            return out
        if state.count == 0 and x.shape[1]:  # the left boundary, before the first sample
            first = x[:, :1] if self.boundary == "edge" else np.zeros_like(x[:, :1])
            cascade.run(np.repeat(first, cascade.pad_left, axis=1), out, base, stop)
        cascade.run(x, out, base, stop)
        if x.shape[1]:
            state.last = x[:, -1].copy()
        if final:
            assert state.last is not None
            last = state.last[:, None] if self.boundary == "edge" else \
                np.zeros((x.shape[0], 1), x.dtype)
            cascade.run(np.repeat(last, self.latency, axis=1), out, base, stop)
        state.count = count
        if cascade.done != stop:
            raise RuntimeError(f"CWTStream: {cascade.done - base} outputs, expected "
                               f"{stop - base}")
        return out

    def step(self, x: np.ndarray) -> np.ndarray:
        """Stream hook: ``(B, C, m)`` in, the ready ``(bands, B, C, m')`` complex out."""
        batch, channels, m = x.shape
        y = self._feed(np.ascontiguousarray(x).reshape(batch * channels, m), False)
        return y.reshape(self.plan.bands, batch, channels, y.shape[-1])

    def finish(self) -> np.ndarray:
        """Stream hook: the last ``latency`` samples, ``(bands, B, C, latency)`` complex (the
        boundary fed after the end)."""
        assert self.layout is not None
        batch, dtype = self.layout.batch, self.layout.dtype
        y = self._feed(np.zeros((batch * self.channels, 0), dtype), True)
        return y.reshape(self.plan.bands, batch, self.channels, y.shape[-1])

    @property
    def bands(self) -> int:
        """Scales per sample (octaves x voices)."""
        return self.plan.bands

    # -- the state as arrays -----------------------------------------------------------------
    def export_state(self) -> dict[str, np.ndarray]:
        """Stream hook: the samples fed and given out (``count``, ``done``), the cascade's ``ends``,
        the ``last`` sample ``(B, C)`` and each level's history ``(B, C, n)``."""
        assert self.layout is not None
        state, cascade = self.state, self.state.cascade
        batch = self.layout.batch
        arrays = {"count": np.array(state.count, np.int64), "done": np.array(cascade.done,
                                                                              np.int64),
                  "ends": cascade.hi.copy()}
        if state.last is not None:
            arrays["last"] = state.last.reshape(batch, self.channels).copy()
        for level, history in enumerate(cascade.histories):
            values = history.recent()
            arrays[f"level{level}.history"] = values.reshape(batch, self.channels, -1).copy()
        return arrays

    def state_spec(self, layout: Layout) -> dict[str, ArraySpec | None]:
        """``count`` (samples fed), ``done`` (outputs given), ``ends`` (where each lowpass
        level's signal ends), ``last`` (the last sample, ``(B, C)``) and each level's
        history ``(B, C, <= size)``."""
        batch, channels, dtype = layout.batch, self.channels, layout.dtype
        lo, sizes, _ = self._geometry()
        spec: dict[str, ArraySpec | None] = {
            "count": count_spec(), "done": count_spec(),
            "ends": ArraySpec((len(lo),), INTEGER, low=-2**62, high=2**62),
            "last": ArraySpec((batch, channels), dtype, required=False)}
        spec.update({f"level{level}.history": history_spec(batch, channels, size, dtype)
                     for level, size in enumerate(sizes)})
        return spec

    def check_state(self, arrays: Mapping[str, Any], layout: Layout) -> None:
        """Everything follows from ``count``: ``done`` is ``count - latency`` (at least 0),
        level 0 ends at ``count`` and each next level ``right`` samples before the one it
        filters, each history holds the last ``min(size, ends - start)`` samples of its
        level, and ``last`` is there once a sample was fed."""
        count, done = scalar(arrays, "count"), scalar(arrays, "done")
        if done != max(0, count - self.latency):
            raise ValueError(f"state 'done' is {done} and 'count' {count}: expected done "
                             f"{max(0, count - self.latency)} (latency {self.latency})")
        lo, sizes, rights = self._geometry()
        probe = self.new_cascade(1, np.dtype(np.float64))
        ends = list(lo)
        if count:
            ends[0] = count
            for level, right in enumerate(rights):
                ends[level + 1] = max(lo[level + 1], ends[level] - right)
        saved = [int(v) for v in np.asarray(arrays["ends"])]
        if saved != ends:
            raise ValueError(f"state 'ends' is {saved}, expected {ends} ('count' {count})")
        for level, size in enumerate(sizes):
            key = f"level{level}.history"
            held = np.shape(arrays[key])[-1] if key in arrays else 0
            want = min(size, probe.held(level, ends[level]))
            if held != want:
                raise ValueError(f"state '{key}' holds {held} samples, expected {want} "
                                 f"('count' {count})")
        if ("last" in arrays) != (count > 0):
            raise ValueError(f"state 'last' must be present exactly when samples were fed "
                             f"('count' {count})")

    def _geometry(self) -> tuple[list[int], list[int], list[int]]:
        """Each lowpass level's first index, each level's history size, and each lowpass's
        right extent (a fresh cascade's)."""
        cascade = self.new_cascade(1, np.dtype(np.float64))
        rights = [self.plan.lowpass_extent(level)[1] for level in range(self.plan.depth)]
        return ([int(v) for v in cascade.hi], [h.size for h in cascade.histories], rights)

    def import_state(self, arrays: Mapping[str, Any], batch: int, dtype: np.dtype) -> None:
        """Stream hook: load what ``export_state`` gave (shapes and dtype checked)."""
        cascade = self.state.cascade
        counts = {}
        for name in ("count", "done"):
            value = np.asarray(arrays.get(name, -1))
            if value.shape != () or value.dtype.kind not in "iu" or int(value) < 0:
                raise ValueError(f"state {name!r} must be an integer >= 0, got "
                                 f"{arrays.get(name)!r}")
            counts[name] = int(value)
        ends = np.asarray(arrays.get("ends", np.zeros(0)))
        if ends.shape != cascade.hi.shape or ends.dtype.kind not in "iu":
            raise ValueError(f"state 'ends' must be {cascade.hi.size} integers, got "
                             f"{ends.dtype} {ends.shape}")
        histories = []
        for level, history in enumerate(cascade.histories):
            name = f"level{level}.history"
            values = np.asarray(arrays.get(name, np.zeros((batch, self.channels, 0), dtype)))
            if values.dtype != dtype or values.ndim != 3 or \
                    values.shape[:2] != (batch, self.channels) or values.shape[2] > history.size:
                raise ValueError(f"state {name!r} must be {dtype} of shape ({batch}, "
                                 f"{self.channels}, <= {history.size}), got {values.dtype} "
                                 f"{values.shape}")
            histories.append(values)
        last = arrays.get("last")
        if last is not None:
            last = np.asarray(last)
            if last.dtype != dtype or last.shape != (batch, self.channels):
                raise ValueError(f"state 'last' must be {dtype} of shape ({batch}, "
                                 f"{self.channels}), got {last.dtype} {last.shape}")
            self.state.last = last.reshape(-1).copy()
        for history, values in zip(cascade.histories, histories):
            history.load(values.reshape(batch * self.channels, -1))
        cascade.hi[:] = ends
        cascade.done = counts["done"]
        self.state.count = counts["count"]


def _options(plan: CWTPlan, boundary: str, channels: int) -> str:
    return (f"{plan.wavelet.name!r}, octaves={plan.octaves}, voices={plan.voices}, "
            f"scale0={plan.scale0:g}, a0={plan.a0:g}, interpolator={plan.interpolator}, "
            f"alignment={plan.alignment!r}, boundary={boundary!r}, channels={channels}, "
            f"latency={plan.latency}")
