"""Real-time à trous transforms: the forward, its inverse and the denoiser, as streams.

``AtrousStream`` chains the engine's ``ConvStream``s level by level: level j's lowpass
(and highpass) stream reads the approximation c_{j-1} that level j-1 just produced, so a
chunk goes through every level before the next chunk arrives and the work per chunk grows
with the chunk and the taps, never with the dilation. Level j's coefficients come out
``R_j = right_1 + ... + right_j`` samples late (0 for the causal alignment); the outputs
of the shallower levels wait in delay lines so that all coefficients of one sample come
out together, ``latency = R_J`` samples after their input (the streaming contract of
``wavedil.stream``: process, then flush, concatenated, equals ``wavedil.atrous.atrous``
with the same options).

Output layout: a chunk of ``(levels + 1, *chunk_layout)``: ``w_1 .. w_J`` then ``c_J``,
as ``AtrousResult.stack()``; ``chunk_layout`` is the layout of the input chunks (``(m,)``,
``(C, m)`` or ``(B, C, m)``).

Boundaries are ``"zero"`` and ``"edge"`` (what a stream can know: the first sample at the
start, the last at the end), applied per level as offline.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import as_float_array, positive_int
from .atrous import ALIGNMENTS, atrous, atrous_spec, level_layers
from .buffer import History
from .stream import Stream
from .wavelets import filter_bank

STREAM_BOUNDARIES = ("zero", "edge")


def _check_stream_options(alignment, boundary):
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    if boundary not in STREAM_BOUNDARIES:
        raise ValueError(f"a stream's boundary must be one of {STREAM_BOUNDARIES} (periodic, "
                         f"symmetric and reflect need the whole signal), got {boundary!r}")


def _coefficients_out(y: np.ndarray, outputs: int, ndim: int) -> np.ndarray:
    """``(B, outputs * C, m)`` -> ``(outputs, *layout)`` for a chunk layout of ``ndim``."""
    batch, channels, m = y.shape[0], y.shape[1] // outputs, y.shape[-1]
    y = y.reshape(batch, outputs, channels, m).swapaxes(0, 1)
    if ndim == 3:
        return y
    return y[:, 0, 0] if ndim == 1 else y[:, 0]


class _Delay:
    """A delay line of ``delay`` samples on a ``(B, C, m)`` stream, built on ``History``.

    ``push(chunk)`` returns the samples that are now ``delay`` old (none at first); the
    last ``delay`` samples wait in the history until ``drain()``.
    """

    def __init__(self, delay: int):
        self.delay = delay
        self.history = None

    def push(self, chunk: np.ndarray) -> np.ndarray:
        if self.delay == 0:
            return chunk
        if self.history is None:
            self.history = History(chunk.shape[:2], self.delay, chunk.dtype)
        window = self.history.append(chunk)
        return window[..., : max(0, window.shape[-1] - self.delay)].copy()

    def drain(self, like: np.ndarray) -> np.ndarray:
        if self.history is None:
            return like[..., :0]
        pending = self.history.recent().copy()
        self.history.clear()
        return pending

    def state(self) -> np.ndarray | None:
        return None if self.history is None else self.history.recent().copy()

    def load(self, values, batch: int, channels: int, dtype, name: str) -> None:
        values = np.asarray(values)
        if values.dtype != dtype or values.shape[:2] != (batch, channels) or \
                values.ndim != 3 or values.shape[2] > self.delay:
            raise ValueError(f"state {name!r} must be {dtype} of shape ({batch}, {channels}, "
                             f"<= {self.delay}), got {values.dtype} {values.shape}")
        self.history = History((batch, channels), self.delay, dtype)
        self.history.load(values)


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

    def __init__(self, wavelet, levels, alignment="causal", boundary="zero", norm=False,
                 channels=1, batch=None):
        self.bank = filter_bank(wavelet)
        self.levels = positive_int(levels, "levels")
        _check_stream_options(alignment, boundary)
        self.alignment, self.boundary, self.norm = alignment, boundary, bool(norm)
        self.channels = positive_int(channels, "channels")
        self._lo, self._hi, self._lag, self._out = [], [], [], []
        delay = 0
        for j in range(1, self.levels + 1):
            lo, hi = level_layers(self.bank, j, alignment, self.norm, boundary, self.channels)
            self._lo.append(lo.stream())
            self._hi.append(None if hi is None else hi.stream())
            self._lag.append(_Delay(lo.right) if hi is None else None)
            delay += lo.right
            self._out.append(delay)
        latency = delay
        self._out = [_Delay(latency - d) for d in self._out] + [_Delay(0)]
        super().__init__(self.channels, (self.levels + 1) * self.channels, latency, batch)

    @property
    def spec(self):
        return atrous_spec(self.bank, self.levels, self.alignment)

    # -- Stream hooks -----------------------------------------------------------------------
    def _config(self) -> dict:
        return {"op": "AtrousStream", "wavelet": self.bank.name,
                "dec_lo": self.bank.dec_lo.tolist(), "levels": self.levels,
                "alignment": self.alignment, "boundary": self.boundary, "norm": self.norm,
                "channels": self.channels}

    def _parts(self):
        for j in range(self.levels):
            yield f"lo{j + 1}", self._lo[j]
            if self._hi[j] is not None:
                yield f"hi{j + 1}", self._hi[j]

    def _delays(self):
        for j, lag in enumerate(self._lag):
            if lag is not None:
                yield f"lag{j + 1}", lag
        for j, out in enumerate(self._out):
            yield f"out{j + 1}", out

    def _levels(self, x: np.ndarray, final: bool) -> list[np.ndarray]:
        """Run ``x`` (``(B, C, m)``) through every level; ``final`` flushes them in turn.

        Returns the new samples of w_1..w_J and c_J (each with its own delay R_j).
        """
        outputs, c = [], x
        for j in range(self.levels):
            lo, hi, lag = self._lo[j], self._hi[j], self._lag[j]
            for part in (lo, hi):
                if part is not None and part._layout is None:
                    part._layout = self._layout
            c_next = lo._process(c)
            if final:
                c_next = np.concatenate([c_next, lo._flush()], axis=-1)
            if hi is None:
                previous = lag.push(c)
                if final:
                    previous = np.concatenate([previous, lag.drain(c)], axis=-1)
                if self.norm:
                    previous = previous * (1 / math.sqrt(2))
                w = previous - c_next
            else:
                w = hi._process(c)
                if final:
                    w = np.concatenate([w, hi._flush()], axis=-1)
            outputs.append(w)
            c = c_next
        return outputs + [c]

    def _emit(self, outputs: list[np.ndarray], final: bool) -> np.ndarray:
        ready = []
        for line, y in zip(self._out, outputs):
            y = line.push(y)
            ready.append(np.concatenate([y, line.drain(y)], axis=-1) if final else y)
        return np.concatenate(ready, axis=1)

    def _process(self, x: np.ndarray) -> np.ndarray:
        return self._emit(self._levels(x, final=False), final=False)

    def _flush(self) -> np.ndarray:
        batch, dtype = self._layout[1], self._layout[2]
        empty = np.zeros((batch, self.channels, 0), dtype)
        return self._emit(self._levels(empty, final=True), final=True)

    def _restore(self, y: np.ndarray) -> np.ndarray:
        return _coefficients_out(y, self.levels + 1, self._layout[0])

    def flush(self) -> np.ndarray:
        if self._layout is None and not self._flushed:
            self._flushed = True
            shape = (self.levels + 1,) + ((0,) if self.channels == 1 else (self.channels, 0))
            return np.zeros(shape)
        return super().flush()

    def _state(self) -> dict[str, np.ndarray]:
        state = {}
        for name, part in self._parts():
            for key, value in part._state().items():
                state[f"{name}.{key}"] = value
        for name, line in self._delays():
            pending = line.state()
            if pending is not None:
                state[f"{name}.pending"] = pending
        return state

    def _load(self, state, batch: int, dtype: np.dtype) -> None:
        for name, part in self._parts():
            part._layout = (3, batch, dtype)
            prefix = f"{name}."
            part._load({k[len(prefix):]: state[k] for k in state if k.startswith(prefix)},
                       batch, dtype)
        for name, line in self._delays():
            if f"{name}.pending" in state:
                line.load(state[f"{name}.pending"], batch, self.channels, dtype,
                          f"{name}.pending")

    def _reset(self) -> None:
        for _, part in self._parts():
            part.reset()
        for _, line in self._delays():
            line.history = None


class AtrousTransform:
    """The forward transform as an operator: offline call, ``.stream()``, ``.spec``.

    ``op(x)`` is ``atrous(x, ...).stack()`` (time last) and equals what ``op.stream()``
    returns chunk by chunk; the options are those of ``AtrousStream``.

    Shape: ``(T,)``, ``(C, T)`` or ``(B, C, T)`` in; ``(levels + 1, *x.shape)`` out.
    """

    def __init__(self, wavelet, levels, alignment="causal", boundary="zero", norm=False,
                 channels=1):
        self.bank = filter_bank(wavelet)
        self.levels = positive_int(levels, "levels")
        _check_stream_options(alignment, boundary)
        self.alignment, self.boundary, self.norm = alignment, boundary, bool(norm)
        self.channels = positive_int(channels, "channels")

    @property
    def spec(self):
        return atrous_spec(self.bank, self.levels, self.alignment)

    @property
    def latency(self) -> int:
        return self.stream().latency

    def __call__(self, x) -> np.ndarray:
        return atrous(x, self.bank, self.levels, self.alignment, self.boundary, self.norm).stack()

    def stream(self, batch=None) -> AtrousStream:
        return AtrousStream(self.bank, self.levels, self.alignment, self.boundary, self.norm,
                            self.channels, batch)


class InverseAtrousStream(Stream):
    """The inverse of a difference bank's transform, chunk by chunk: ``c_J + sum_j w_j``.

    Zero latency, exact for every alignment and boundary (the sum is per sample). An SWT
    bank (db, sym, coif, haar, user pairs) cannot be inverted in a stream: its synthesis
    at sample n reads coefficients up to ``(K-1)(2^J-1)`` samples away, which near the end
    of a stream do not exist; ``wavedil.atrous_stream.DenoiseStream`` runs the whole chain
    (analysis, thresholds, synthesis) instead, with that latency.

    Shape: ``(levels + 1, *chunk_shape)`` in (as ``AtrousStream`` gives), ``chunk_shape`` out.
    """

    def __init__(self, wavelet, levels, norm=False, channels=1, batch=None):
        self.bank = filter_bank(wavelet)
        if not self.bank.difference:
            raise ValueError(
                f"InverseAtrousStream needs a difference bank ('starlet', 'linear'), got "
                f"{self.bank.name!r}: an SWT synthesis at sample n reads coefficients up to "
                f"(K-1)(2^J-1) samples later, which do not exist at the end of a stream; use "
                f"DenoiseStream for analysis-threshold-synthesis chains, or "
                f"wavedil.atrous.iatrous offline (periodic boundary)")
        self.levels = positive_int(levels, "levels")
        self.norm = bool(norm)
        self.channels = positive_int(channels, "channels")
        self._signal_ndim = None
        super().__init__((self.levels + 1) * self.channels, self.channels, 0, batch)

    def process(self, coefficients) -> np.ndarray:
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

    def _config(self) -> dict:
        return {"op": "InverseAtrousStream", "wavelet": self.bank.name,
                "dec_lo": self.bank.dec_lo.tolist(), "levels": self.levels, "norm": self.norm,
                "channels": self.channels}

    def _process(self, x: np.ndarray) -> np.ndarray:
        batch, m = x.shape[0], x.shape[-1]
        parts = x.reshape(batch, self.levels + 1, self.channels, m)
        c = parts[:, self.levels].copy()
        root2 = math.sqrt(2)
        for j in range(self.levels - 1, -1, -1):
            c += parts[:, j]
            if self.norm:
                c *= root2
        return c

    def _flush(self) -> np.ndarray:
        return np.zeros((self._layout[1], self.channels, 0), self._layout[2])

    def _state(self) -> dict[str, np.ndarray]:
        return {}

    def _load(self, state, batch: int, dtype: np.dtype) -> None:
        pass

    def _reset(self) -> None:
        pass
