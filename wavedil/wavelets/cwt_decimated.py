"""The decimated CWT in real time: ``DecimatedCWTStream`` and its engine.

``wavedil.cwt(..., decimate=True)`` keeps octave j on a grid of hop 2^j: columns at the
samples 0, 2^j, 2·2^j, ... of x. So does this engine (``DecimatedCascade``), offline and
streaming alike: level l of the lowpass cascade (``wavedil.wavelets.cwt_plan``) keeps x_l
at the multiples of 2^l only (its lowpass reads x_(l-1) one grid step apart and moves two
steps per output), and a band of octave j reads its level one grid step apart, moving
``2^(j - l)`` steps per column (Shensa's pyramid: the à trous algorithm wed to Mallat's).
The work per second of input is about twice that of octave 0 alone, and the output
``voices (2 - 2^(1 - J)) T`` coefficients instead of ``J voices T``.

It is the undecimated ``Cascade`` with holes: the same extents, histories (in grid samples),
ends (``ends[l]``: every grid sample of x_l before it is computed) and latency, so a stream
hands out the same time range per chunk as ``CWTStream`` does, each octave the columns of
its grid in that range; every column is one fixed sum, so any chunking gives the offline
result bit for bit.

Output layout: a list of ``octaves`` arrays, octave j ``(voices, *chunk_layout)`` complex
(``complex64`` for float32 chunks), holding its columns at the multiples of 2^j among the
samples the call completes: samples ``emitted`` (before the call) to ``emitted`` (after).
Concatenated over the calls and the flush, octave j is ``cwt(x, ..., decimate=True)
.octave(j)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..engine.history import History
from ..engine.stream import single_consumer
from .cwt_plan import CWTPlan
from .cwt_stream import Cascade, CWTStream, _options, complex_dtype, pad_mode


def on_grid(start: int, stop: int, grain: int) -> int:
    """How many multiples of ``grain`` lie in ``[start, stop)``."""
    return max(0, (stop - 1) // grain - (start - 1) // grain)


class DecimatedCascade(Cascade):
    """``Cascade`` with octave j on the grid 2^j (see the module docstring): the lowpass
    levels and bands over ``rows`` signals, fed the extended signal piece by piece; x index
    0 is ``pad_left`` samples in. ``outputs`` are a list of ``(voices, rows, n_j)``."""

    def __init__(self, plan: CWTPlan, rows: int, dtype: np.dtype) -> None:
        delays = self._start(plan, rows, dtype)
        depth, latency, voices = plan.depth, plan.latency, plan.voices
        sizes = [plan.lowpass.size - 1 if level < depth else 0 for level in range(depth + 1)]
        self.octave_arrays: list[tuple[int, int, tuple]] = []  # (level, step, band arrays)
        for j in range(plan.octaves):
            bands = np.arange(j * voices, (j + 1) * voices)
            level = int(plan.levels[bands[0]])
            arrays = self._band_arrays(bands)
            # rows of out[j] first; the lefts in samples of the level (multiples of 2^level)
            arrays = (np.arange(voices, dtype=np.int64),) + arrays[1:4] + \
                (arrays[4] // 2**level, arrays[5])
            self.octave_arrays.append((level, 2 ** (j - level), arrays))
            for left in arrays[4]:  # a band reads back to done - left, hi_l - done <= this
                span = latency - delays[level] + int(left) * 2**level
                sizes[level] = max(sizes[level], -(-span // 2**level) + 1)
        self.histories = [History((rows,), size, self.dtype) for size in sizes]
        self.lowpass = np.ascontiguousarray(plan.lowpass, self.dtype)
        # per lowpass level: (left, right); per octave: (its level, its bands' largest right)
        self._lowpasses = [plan.lowpass_extent(level) for level in range(depth)]
        self._rights = [(level, int(arrays[5].max())) for level, _, arrays in
                        self.octave_arrays]

    def held(self, level: int, end: int) -> int:
        return on_grid(self.lo[level], end, 2**level)

    def ready(self) -> int:
        return min(int(self.hi[level]) - right for level, right in self._rights)

    def outputs(self, start: int, stop: int) -> list[np.ndarray]:
        """Per octave j, room for its columns at the multiples of 2^j in ``[start, stop)``."""
        dtype = complex_dtype(self.dtype)
        return [np.empty((self.plan.voices, self.rows, on_grid(start, stop, 2**j)), dtype)
                for j in range(self.plan.octaves)]

    def advance(self, piece: np.ndarray, out: Any, base: int, limit: int) -> None:
        """Feed ``piece`` ``(rows, m)`` of the extended signal; write the ready columns
        (samples ``< limit``) of octave j to ``out[j]``, whose first column is the first
        multiple of 2^j at or after ``base``."""
        from ..engine.compiled import complex_bands, strided_correlate

        histories, hi = self.histories, self.hi.tolist()
        views = [histories[0].append(piece)]
        end = hi[0] + piece.shape[1]
        ends = [end]
        for level, (left, right) in enumerate(self._lowpasses):
            view, spacing = views[level], 2**level
            start, grain = hi[level + 1], 2 * spacing
            first = -(-start // grain) * grain
            end = max(start, end - right)
            n = (end - 1) // grain - (first - 1) // grain  # on_grid(first, end, grain)
            target = histories[level + 1]
            if n > 0:
                kept = len(target)
                view_start = -(-ends[level] // spacing) * spacing - view.shape[1] * spacing
                slot = target.reserve(n)
                strided_correlate(view, (first - left - view_start) // spacing, 2,
                                  self.lowpass, 1, target.buffer, slot, n)
                views.append(target.buffer[:, slot - kept : slot + n])
            else:
                views.append(target.recent())
            ends.append(end)
        self.hi[:] = ends
        stop = min(min(ends[level] - right for level, right in self._rights), limit)
        done = self.done
        if stop <= done:
            return
        hermitian = self.plan.wavelet.hermitian
        for j, (level, step, arrays) in enumerate(self.octave_arrays):
            grain = 2**j
            first = -(-done // grain) * grain
            n = (stop - 1) // grain - (first - 1) // grain
            if n <= 0:
                continue
            rows_out, re, im, lengths, lefts, _ = arrays
            view, spacing = views[level], 2**level
            view_start = -(-ends[level] // spacing) - view.shape[1]  # in samples of the level
            complex_bands(view, first // spacing - view_start - lefts, step, 1, re, im,
                          lengths, hermitian, rows_out, out[j],
                          (first - 1) // grain - (base - 1) // grain, n)
        self.done = stop


def decimated_rows(plan: CWTPlan, rows: np.ndarray, boundary: str) -> list[np.ndarray]:
    """The offline decimated transform of ``(rows, T)``: per octave j ``(voices, rows,
    ceil(T / 2^j))`` (x extended by ``boundary``, as ``transform_rows``)."""
    length = rows.shape[1]
    cascade = DecimatedCascade(plan, rows.shape[0], rows.dtype)
    out = cascade.outputs(0, length)
    if length:
        extended = np.pad(rows, ((0, 0), (cascade.pad_left, plan.latency)),
                          mode=pad_mode(boundary, length))
        cascade.run(extended, out, 0, length)
    return out


class DecimatedCWTStream(CWTStream):
    """The decimated CWT chunk by chunk: octave j every 2^j samples (module docstring).

    Options, latency, state and boundaries as ``CWTStream``; ``CWT(...).stream(decimate=
    True)`` makes one. ``emitted``: the samples whose columns were handed out so far.

    Shape: chunks ``(m,)``, ``(C, m)`` or ``(B, C, m)`` in; a list of ``octaves`` arrays
    out, octave j ``(voices, *chunk_shape[:-1], n_j)`` complex (its new columns).
    """

    def __repr__(self) -> str:
        return f"DecimatedCWTStream({_options(self.plan, self.boundary, self.channels)})"

    def config(self) -> dict[str, Any]:
        """Stream hook: ``CWTStream``'s configuration, as ``"op": "DecimatedCWTStream"``."""
        return {**super().config(), "op": "DecimatedCWTStream"}

    def new_cascade(self, rows: int, dtype: np.dtype) -> Cascade:
        """The decimated engine (``DecimatedCascade``) of ``rows`` signals."""
        return DecimatedCascade(self.plan, rows, dtype)

    def step(self, x: np.ndarray) -> np.ndarray:
        """Not used: ``process`` returns per-octave lists (``CWTStream.step`` does not)."""
        raise NotImplementedError("DecimatedCWTStream runs through process() and flush()")

    def finish(self) -> np.ndarray:
        """Not used: ``flush`` returns per-octave lists (``CWTStream.finish`` does not)."""
        raise NotImplementedError("DecimatedCWTStream runs through process() and flush()")

    @property
    def emitted(self) -> int:
        """The samples whose columns were handed out (0 before the first chunk)."""
        return 0 if self.state is None else int(self.state.cascade.done)

    @single_consumer
    def process(self, chunk: npt.ArrayLike) -> list[np.ndarray]:  # type: ignore[override]
        """Feed ``chunk``; return each octave's new columns (a list, see the class)."""
        x, layout = self.accept(chunk)
        self.begin(layout)
        batch, channels, m = x.shape
        return self._shaped(self._feed(np.ascontiguousarray(x).reshape(batch * channels, m),
                                       False))

    @single_consumer
    def flush(self) -> list[np.ndarray]:  # type: ignore[override]
        """End the stream: each octave's last columns (the last ``latency`` samples')."""
        if self.flushed:
            raise ValueError("this stream was already flushed; call reset() to start again")
        if self.layout is None:  # never fed: no columns, in the declared layout
            if self.batch is None:
                self.flushed = True
                lead = () if self.channels == 1 else (self.channels,)
                return [np.zeros((self.plan.voices,) + lead + (0,), np.complex128)
                        for _ in range(self.plan.octaves)]
            self.start(self.batch, np.dtype(np.float64), 3)
        assert self.layout is not None
        rows = self.layout.batch * self.channels
        blocks = self._feed(np.zeros((rows, 0), self.layout.dtype), True)
        self.flushed = True
        return self._shaped(blocks)

    def _shaped(self, blocks: list[np.ndarray]) -> list[np.ndarray]:
        """``(voices, rows, n)`` blocks in the layout of the input chunks."""
        assert self.layout is not None
        batch, voices = self.layout.batch, self.plan.voices
        shaped = [b.reshape(voices, batch, self.channels, b.shape[-1]) for b in blocks]
        return [self.restore(b) for b in shaped]
