"""Real-time à trous transforms: the forward, its inverse and the denoiser, as streams.

``AtrousStream`` runs a chunk through every level in one compiled call
(``wavedil._atrous_kernels.stream_levels``): level j keeps the last ``(K-1) 2^(j-1)``
samples of its input c_{j-1} in a linear buffer (moved to the front only when its room
runs out, as ``wavedil.buffer.History``), filters them with the engine's dilated
cross-correlation (the layers of ``wavedil.atrous.level_layers``, the lowpass and highpass
from one read), and hands c_j to level j+1; so the work per chunk grows with the chunk and
the taps, never with the dilation, and no Python runs per level. Level j's coefficients
come out ``R_j = right_1 + ... + right_j`` samples late (0 for the causal alignment); the
outputs of the shallower levels wait in delay lines so that all coefficients of one sample
come out together, ``latency = R_J`` samples after their input (the streaming contract of
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
from .atrous import (
    ALIGNMENTS,
    atrous,
    atrous_spec,
    level_extent,
    reconstruction_gain,
    synthesis_layers,
)
from .buffer import History
from .denoise import MODES, detail_gains, estimate_sigma, level_thresholds, shrink
from .stream import Stream, load_nested_state, nested_state, sub_state
from .wavelets import filter_bank

STREAM_BOUNDARIES = ("zero", "edge")
_PIECE = 4096  # the longest piece of a chunk one kernel call takes (bounds the buffers)


def _check_stream_options(alignment, boundary):
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    if boundary not in STREAM_BOUNDARIES:
        raise ValueError(f"a stream's boundary must be one of {STREAM_BOUNDARIES} (periodic, "
                         f"symmetric and reflect need the whole signal), got {boundary!r}")


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
    def spec(self):
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
        from ._atrous_kernels import stream_levels

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
    def _config(self) -> dict:
        return {"op": "AtrousStream", "wavelet": self.bank.name,
                "dec_lo": self.bank.dec_lo.tolist(), "levels": self.levels,
                "alignment": self.alignment, "boundary": self.boundary, "norm": self.norm,
                "channels": self.channels}

    def _process(self, x: np.ndarray) -> np.ndarray:
        """``(B, C, m)`` in, ``(levels + 1, B, C, m_out)`` out (pieces of ``_PIECE``)."""
        batch, channels, m = x.shape
        rows = np.ascontiguousarray(x).reshape(batch * channels, m)
        pieces = [self._run(rows[:, start : start + _PIECE], False)
                  for start in range(0, m, _PIECE)] or [self._run(rows, False)]
        y = pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=-1)
        return y.reshape(self.levels + 1, batch, channels, y.shape[-1])

    def _flush(self) -> np.ndarray:
        batch, dtype = self._layout[1], self._layout[2]
        y = self._run(np.zeros((batch * self.channels, 0), dtype), True)
        return y.reshape(self.levels + 1, batch, self.channels, y.shape[-1])

    def _restore(self, y: np.ndarray) -> np.ndarray:
        ndim = self._layout[0]
        return y if ndim == 3 else y[:, 0, 0] if ndim == 1 else y[:, 0]

    def flush(self) -> np.ndarray:
        if self._layout is None and not self._flushed:
            self._flushed = True
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

    def _state(self) -> dict[str, np.ndarray]:
        state = {"count": np.array(self._count, np.int64)}
        if self._buffers is None:
            return state
        batch = self._layout[1]
        for name, array, base, pos, j, _ in self._lines():
            start, end = pos[j]
            if start >= 0:
                kept = array[:, base[j] + start : base[j] + end]
                state[name] = kept.reshape(batch, self.channels, end - start).copy()
        return state

    def _load(self, state, batch: int, dtype: np.dtype) -> None:
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

    def _reset(self) -> None:
        self._buffers = None
        self._count = 0


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


# -- the streaming denoiser -------------------------------------------------------------------

class _RunningThresholds:
    """Per-level thresholds of a stream: fixed, or re-estimated every ``hop`` coefficients.

    At every coefficient index u that is a positive multiple of ``hop``, the thresholds
    for indices u, u+1, ... are recomputed from the last ``window`` coefficients before u
    (``wavedil.denoise.level_thresholds``; sigma from their finest level's MAD unless fixed).
    Before the first estimate nothing is thresholded. The updates sit at absolute indices,
    so the output does not depend on how the stream is chunked.
    """

    def __init__(self, gains, threshold, mode, sigma, window, hop, channels):
        self.gains, self.threshold, self.mode = gains, threshold, mode
        self.sigma = None if sigma is None else float(sigma)
        self.window, self.hop, self.channels = window, hop, channels
        numeric = isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
        self.fixed = self.sigma is not None and (numeric or threshold == "universal")
        self.history, self.lambdas, self.count = None, None, 0

    def _estimate(self, w: np.ndarray) -> np.ndarray:
        """Thresholds ``(B, J, C)`` from coefficients ``(B, J, C, n)``."""
        details = w.swapaxes(0, 1)  # (J, B, C, n)
        if self.sigma is None:
            sigma = estimate_sigma(details[0], self.gains[0])
        else:
            sigma = np.full(details.shape[1:3], self.sigma)
        threshold = self.threshold
        if threshold == "universal":  # over the window, not the whole signal
            return (self.gains[:, None, None] * sigma * math.sqrt(2 * math.log(self.window))
                    ).swapaxes(0, 1)
        return level_thresholds(details, sigma, self.gains, threshold).swapaxes(0, 1)

    def apply(self, w: np.ndarray) -> np.ndarray:
        """Shrink ``(B, J, C, m)`` coefficients (the next ``m`` indices of every level)."""
        batch, levels, channels, m = w.shape
        if self.lambdas is None:
            self.lambdas = np.zeros((batch, levels, channels))
            if self.fixed:
                self.lambdas = self._estimate(np.zeros((batch, levels, channels, 1)))
        if self.fixed or m == 0:
            self.count += m
            return shrink(w, self.lambdas[..., None].astype(w.dtype), self.mode)
        if self.history is None:
            self.history = History((batch, levels * channels), self.window, w.dtype)
        full = self.history.append(w.reshape(batch, levels * channels, m))
        kept = full.shape[-1] - m
        start, out, done = self.count, np.empty_like(w), 0
        first = max(self.hop, -(-start // self.hop) * self.hop)
        for u in range(first, start + m, self.hop):
            offset = u - start
            out[..., done:offset] = shrink(w[..., done:offset],
                                           self.lambdas[..., None].astype(w.dtype), self.mode)
            recent = full[..., kept + offset - min(self.window, u) : kept + offset]
            self.lambdas = self._estimate(recent.reshape(batch, levels, channels, -1))
            done = offset
        out[..., done:] = shrink(w[..., done:], self.lambdas[..., None].astype(w.dtype),
                                 self.mode)
        self.count += m
        return out

    def state(self) -> dict[str, np.ndarray]:
        state = {"count": np.array(self.count)}
        if self.lambdas is not None:
            state["lambdas"] = self.lambdas.copy()
        if self.history is not None:
            state["history"] = self.history.recent().copy()
        return state

    def load(self, state, batch: int, dtype) -> None:
        self.count = int(np.asarray(state.get("count", 0)))
        levels = self.gains.size
        if "lambdas" in state:
            lambdas = np.asarray(state["lambdas"], dtype=np.float64)
            if lambdas.shape != (batch, levels, self.channels):
                raise ValueError(f"state 'thresholds.lambdas' must have shape "
                                 f"{(batch, levels, self.channels)}, got {lambdas.shape}")
            self.lambdas = lambdas.copy()
        if "history" in state:
            values = np.asarray(state["history"])
            if values.dtype != dtype or values.shape[:2] != (batch, levels * self.channels):
                raise ValueError(f"state 'thresholds.history' must be {dtype} of shape "
                                 f"({batch}, {levels * self.channels}, <= {self.window}), "
                                 f"got {values.dtype} {values.shape}")
            self.history = History((batch, levels * self.channels), self.window, dtype)
            self.history.load(values)

    def reset(self) -> None:
        self.history, self.lambdas, self.count = None, None, 0


class DenoiseStream(Stream):
    """Wavelet denoising in real time: forward stream, thresholds, inverse, chunk by chunk.

    A difference bank (``"starlet"``, the default, or ``"linear"``) sums its shrunk
    details and its approximation sample by sample: the latency is the forward's, 0 for
    the causal alignment. An SWT bank (db, sym, coif, haar) runs its causal analysis, then
    the synthesis of ``wavedil.atrous.synthesis_layers`` level by level, which reads
    ``(K-1) 2^(j-1)`` coefficients ahead at level j: latency ``(K-1)(2^J - 1)``. At the
    end, ``flush`` feeds that many samples of the boundary (zeros, or the last sample for
    ``"edge"``) through the chain, so with zero thresholds the output is exactly the input.

    Thresholds (``wavedil.denoise``): ``sigma`` fixed, or None for a running estimate
    (MAD of the finest details over the last ``window`` coefficients, renewed every
    ``hop``); ``threshold`` ``"bayes"`` (running signal variance per level), ``"sure"``,
    ``"universal"`` (``sigma_j sqrt(2 ln window)``) or k (``k sigma_j``). With a fixed
    ``sigma`` and k or ``"universal"`` the thresholds hold from the first sample (with k,
    the output equals ``wavedil.denoise.denoise`` with the same options); otherwise nothing
    is thresholded before the first estimate, ``hop`` coefficients in.

    Shape: chunks ``(m,)``, ``(C, m)`` or ``(B, C, m)`` in, the same layout out.
    """

    def __init__(self, wavelet="starlet", levels=5, alignment="causal", boundary="zero",
                 threshold="bayes", mode="soft", sigma=None, window=8192, hop=1024,
                 channels=1, batch=None):
        self.bank = filter_bank(wavelet)
        self.levels = positive_int(levels, "levels")
        _check_stream_options(alignment, boundary)
        if not self.bank.difference and alignment != "causal":
            raise ValueError(f"an SWT bank ({self.bank.name!r}) denoises with a causal analysis "
                             f"(its synthesis brings the latency (K-1)(2^J-1) in any case), "
                             f"got alignment={alignment!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        level_thresholds(np.zeros((1, 1)), 1.0, [1.0], threshold)  # checks the rule
        if sigma is not None and not (isinstance(sigma, (int, float)) and sigma >= 0):
            raise ValueError(f"sigma must be None (running estimate) or a number >= 0, "
                             f"got {sigma!r}")
        self.window = positive_int(window, "window")
        self.hop = positive_int(hop, "hop")
        self.alignment, self.boundary = alignment, boundary
        self.threshold, self.mode, self.sigma = threshold, mode, sigma
        self.channels = positive_int(channels, "channels")
        self._forward = AtrousStream(self.bank, self.levels, alignment, boundary,
                                     channels=self.channels)
        gains = detail_gains(self.bank, self.levels, alignment)
        self._thresholds = _RunningThresholds(gains, threshold, mode, sigma, self.window,
                                              self.hop, self.channels)
        self._synthesis, self._lags, self._last = [], [], None
        latency = self._forward.latency
        if not self.bank.difference:
            self._gain = reconstruction_gain(self.bank)
            lag = 0
            for j in range(self.levels, 0, -1):
                lo, hi = synthesis_layers(self.bank, j, "causal", channels=self.channels)
                self._synthesis.insert(0, (lo.stream(), hi.stream()))
                self._lags.insert(0, _Delay(lag))
                lag += lo.right
            latency = lag
        super().__init__(self.channels, self.channels, latency, batch)

    def _config(self) -> dict:
        return {"op": "DenoiseStream", "wavelet": self.bank.name,
                "dec_lo": self.bank.dec_lo.tolist(), "levels": self.levels,
                "alignment": self.alignment, "boundary": self.boundary,
                "threshold": self.threshold, "mode": self.mode, "sigma": self.sigma,
                "window": self.window, "hop": self.hop, "channels": self.channels}

    def _denoise(self, coefficients: np.ndarray) -> np.ndarray:
        """``(J+1, B, C, m)`` aligned coefficients -> ``(B, C, m)`` (difference banks)
        or the synthesis output so far (SWT banks)."""
        parts = np.moveaxis(coefficients, 0, 1)  # (B, J+1, C, m)
        details = self._thresholds.apply(parts[:, : self.levels])
        c = parts[:, self.levels]
        if self.bank.difference:
            return c + details.sum(axis=1)
        for j in range(self.levels - 1, -1, -1):
            lo, hi = self._synthesis[j]
            for part in (lo, hi):
                if part._layout is None:
                    part._layout = self._layout
            w = self._lags[j].push(np.ascontiguousarray(details[:, j]))
            c = lo._process(c) + hi._process(w)
            c *= 1 / self._gain
        return c

    def _process(self, x: np.ndarray) -> np.ndarray:
        if x.shape[-1]:
            self._last = x[..., -1:].copy()
        self._forward._layout = self._layout
        return self._denoise(self._forward._process(x))

    def _flush(self) -> np.ndarray:
        self._forward._layout = self._layout
        if self.bank.difference:
            return self._denoise(self._forward._flush())
        batch, dtype = self._layout[1], self._layout[2]
        if self._last is None:
            return np.zeros((batch, self.channels, 0), dtype)
        shape = (batch, self.channels, self.latency)
        tail = np.broadcast_to(self._last, shape) if self.boundary == "edge" else \
            np.zeros(shape, dtype)
        return self._denoise(self._forward._process(np.ascontiguousarray(tail)))

    def _parts(self):
        yield "forward", self._forward
        for j, (lo, hi) in enumerate(self._synthesis):
            yield f"synthesis_lo{j + 1}", lo
            yield f"synthesis_hi{j + 1}", hi

    def _state(self) -> dict[str, np.ndarray]:
        state = nested_state(self._parts())
        for j, lag in enumerate(self._lags):
            if lag.state() is not None:
                state[f"lag{j + 1}.pending"] = lag.state()
        for key, value in self._thresholds.state().items():
            state[f"thresholds.{key}"] = value
        if self._last is not None:
            state["last"] = self._last.copy()
        return state

    def _load(self, state, batch: int, dtype: np.dtype) -> None:
        load_nested_state(self._parts(), state, batch, dtype)
        for j, lag in enumerate(self._lags):
            if f"lag{j + 1}.pending" in state:
                lag.load(state[f"lag{j + 1}.pending"], batch, self.channels, dtype,
                         f"lag{j + 1}.pending")
        self._thresholds.load(sub_state(state, "thresholds"), batch, dtype)
        if "last" in state:
            last = np.asarray(state["last"])
            if last.shape != (batch, self.channels, 1) or last.dtype != dtype:
                raise ValueError(f"state 'last' must be {dtype} of shape "
                                 f"{(batch, self.channels, 1)}, got {last.dtype} {last.shape}")
            self._last = last.copy()

    def _reset(self) -> None:
        for _, part in self._parts():
            part.reset()
        for lag in self._lags:
            lag.history = None
        self._thresholds.reset()
        self._last = None


class Denoiser:
    """The streaming denoiser as an operator: ``op(x)`` runs a fresh ``DenoiseStream`` over
    the whole of ``x`` (one code path), ``op.stream()`` gives one to feed chunk by chunk.

    Shape: ``(T,)``, ``(C, T)`` or ``(B, C, T)`` in, the same shape out.
    """

    def __init__(self, wavelet="starlet", levels=5, **options):
        self.wavelet, self.levels, self.options = wavelet, levels, options
        self.latency = self.stream().latency

    def __call__(self, x) -> np.ndarray:
        stream = self.stream()
        y = stream.process(x)
        return np.concatenate([y, stream.flush()], axis=-1)

    def stream(self, batch=None) -> DenoiseStream:
        return DenoiseStream(self.wavelet, self.levels, batch=batch, **self.options)
