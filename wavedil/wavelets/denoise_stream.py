"""Wavelet denoising in real time: ``DenoiseStream`` and its operator form ``Denoiser``.

The forward stream (``wavedil.wavelets.streams.AtrousStream``), thresholds re-estimated on a
running window (``RunningThresholds``), and the inverse, chunk by chunk.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..engine.checks import positive_int
from ..engine.conv import ConvStream, checked_history
from ..engine.finite import as_signal
from ..engine.history import DelayLine, History
from ..engine.params import axis_index, check_budget
from ..engine.state import ArraySpec, check_delay_lines, count_spec, history_spec, scalar
from ..engine.stream import Layout, Stream, sub_state
from .banks import WaveletLike, filter_bank
from .denoise import (
    MODES,
    check_denoising_alignment,
    detail_gains,
    level_thresholds,
    noise_sigma,
    shrink,
)
from .guards import check_channels, check_stream_levels
from .streams import AtrousStream, check_stream_options, check_synthesis, synthesis_geometry
from .transform import reconstruction_gain, synthesis_layers


@dataclass
class DenoiseState:
    """A denoiser's own memory (its forward and synthesis streams keep theirs)."""

    thresholds: RunningThresholds
    lags: list[DelayLine]  # per level: w_j waiting for the synthesis to reach it
    last: np.ndarray | None = None  # the last input sample, (B, C, 1), for an edge flush


def fixed_thresholds(threshold: str | float, sigma: float | None) -> bool:
    """Whether thresholds are fixed from the start: a fixed ``sigma`` with k or
    ``"universal"`` (no window of coefficients kept)."""
    numeric = isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
    return sigma is not None and (numeric or threshold == "universal")


class RunningThresholds:
    """Per-level thresholds of a stream: fixed, or re-estimated every ``hop`` coefficients.

    At every coefficient index u that is a positive multiple of ``hop``, the thresholds
    for indices u, u+1, ... are recomputed from the last ``window`` coefficients before u
    (``wavedil.wavelets.denoise.level_thresholds``; sigma from their ``noise_sigma``
    unless fixed), over the finite ones (a window without any keeps the thresholds).
    Before the first estimate nothing is thresholded. The updates sit at absolute indices,
    so the output does not depend on how the stream is chunked.
    """

    def __init__(self, gains: npt.ArrayLike, threshold: str | float, mode: str,
                 sigma: float | None, window: int, hop: int, channels: int) -> None:
        self.gains = np.asarray(gains, np.float64)  # (J,): per-level noise gains
        self.threshold, self.mode = threshold, mode
        self.sigma = None if sigma is None else float(sigma)
        self.window, self.hop, self.channels = window, hop, channels
        self.fixed = fixed_thresholds(threshold, sigma)
        # the state: the last `window` coefficients (B, J C, <= window), the thresholds in
        # force (B, J, C) and the coefficient index of every level
        self.history: History | None = None
        self.lambdas: np.ndarray | None = None
        self.count = 0

    def __repr__(self) -> str:
        return (f"RunningThresholds(threshold={self.threshold!r}, mode={self.mode!r}, "
                f"sigma={self.sigma!r}, window={self.window}, hop={self.hop}, "
                f"levels={self.gains.size}, channels={self.channels})")

    def _estimate(self, w: np.ndarray) -> np.ndarray:
        """Thresholds ``(B, J, C)`` from coefficients ``(B, J, C, n)``."""
        details = w.swapaxes(0, 1)  # (J, B, C, n)
        if self.sigma is None:
            sigma = noise_sigma(details, self.gains)
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
            new = self._estimate(recent.reshape(batch, levels, channels, -1))
            self.lambdas = np.where(np.isnan(new), self.lambdas, new)  # (no finite value)
            done = offset
        out[..., done:] = shrink(w[..., done:], self.lambdas[..., None].astype(w.dtype),
                                 self.mode)
        self.count += m
        return out

    def state(self) -> dict[str, np.ndarray]:
        """The state as plain arrays: ``count``, ``lambdas``, ``history`` (when known)."""
        state = {"count": np.array(self.count)}
        if self.lambdas is not None:
            state["lambdas"] = self.lambdas.copy()
        if self.history is not None:
            state["history"] = self.history.recent().copy()
        return state

    def load(self, state: Mapping[str, Any], batch: int, dtype: np.dtype) -> None:
        """Continue from ``state()`` of thresholds of this configuration (checked)."""
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
        """Forget every coefficient seen."""
        self.history, self.lambdas, self.count = None, None, 0


class DenoiseStream(Stream):
    """Wavelet denoising in real time: forward stream, thresholds, inverse, chunk by chunk.

    The recipe and the defaults of ``wavedil.wavelets.denoise.denoise`` (sym8, BayesShrink,
    soft, sigma from ``noise_sigma``) but two, for the latency: 5 levels (not 10) and what
    a stream can run (``boundary="zero"`` or ``"edge"``). The default's latency is 465
    samples (29 ms at 16 kHz); ``benchmarks/RESULTS.md`` measures the trade between
    wavelet, levels, latency and SNR.

    An SWT bank (db, sym, coif, haar) runs its causal analysis, then the synthesis of
    ``wavedil.wavelets.transform.synthesis_layers`` level by level, which reads
    ``(K-1) 2^(j-1)`` coefficients ahead at level j: latency ``(K-1)(2^J - 1)``. A
    difference bank (``"starlet"``, ``"linear"``) runs its centred analysis (its causal
    details are not band-pass: ``check_denoising_alignment``) and sums its shrunk details
    and its approximation sample by sample: latency ``(K-1)/2 (2^J - 1)``, 62 samples for
    the starlet at 5 levels. ``alignment=None`` picks these. At the end, ``flush`` feeds
    the latency's worth of the boundary (zeros, or the last sample for ``"edge"``) through
    the chain, so with zero thresholds the output is exactly the input, delayed.

    Thresholds (``wavedil.wavelets.denoise``): ``sigma`` fixed, or None for a running
    estimate (``noise_sigma`` of the last ``window`` coefficients, renewed every ``hop``);
    ``threshold`` ``"bayes"`` (running signal variance per level), ``"sure"``,
    ``"universal"`` (``sigma_j sqrt(2 ln window)``) or k (``k sigma_j``). With a fixed
    ``sigma`` and k or ``"universal"`` the thresholds hold from the first sample (with k,
    the output equals ``wavedil.wavelets.denoise.denoise`` with the same options);
    otherwise nothing is thresholded before the first estimate, ``hop`` coefficients in
    (earlier estimates, from fewer coefficients, misjudge the noise: measured in
    ``benchmarks/RESULTS.md``).

    Shape: chunks ``(m,)``, ``(C, m)`` or ``(B, C, m)`` in, the same layout out.
    """

    def __init__(self, wavelet: WaveletLike = "sym8", levels: int = 5,
                 alignment: str | None = None, boundary: str = "zero",
                 threshold: str | float = "bayes", mode: str = "soft",
                 sigma: float | None = None, window: int = 8192, hop: int = 512,
                 channels: int = 1, batch: int | None = None) -> None:
        self.bank = filter_bank(wavelet)
        self.levels = check_stream_levels(self.bank, levels, "DenoiseStream", copies=2)
        if alignment is None:
            alignment = "centered" if self.bank.difference else "causal"
        check_stream_options(alignment, boundary)
        check_denoising_alignment(self.bank, alignment)
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
        check_budget(8.0 * self.channels * self.levels * 2 * self.window,
                     f"DenoiseStream with window={self.window}: running thresholds over "
                     f"2 x window samples of {self.levels} level(s) x channels={self.channels} "
                     f"in float64", "use a smaller window (8192 by default)")
        self._forward = AtrousStream(self.bank, self.levels, alignment, boundary,
                                     channels=self.channels)
        self._gains = detail_gains(self.bank, self.levels, alignment)
        self._synthesis: list[tuple[ConvStream, ConvStream]] = []
        self._lags: list[int] = []  # per level: the delay that aligns w_j with c_j
        latency = self._forward.latency
        if not self.bank.difference:
            self._gain = reconstruction_gain(self.bank)
            lag = 0
            for j in range(self.levels, 0, -1):
                lo, hi = synthesis_layers(self.bank, j, "causal", channels=self.channels)
                self._synthesis.insert(0, (lo.stream(), hi.stream()))
                self._lags.insert(0, lag)
                lag += lo.right
            latency = lag
        super().__init__(self.channels, self.channels, latency, batch)

    def __repr__(self) -> str:
        return (f"DenoiseStream({self.bank.name!r}, levels={self.levels}, "
                f"alignment={self.alignment!r}, boundary={self.boundary!r}, "
                f"threshold={self.threshold!r}, mode={self.mode!r}, sigma={self.sigma!r}, "
                f"latency={self.latency})")

    def config(self) -> dict[str, Any]:
        """Stream hook: the configuration as JSON (a saved state must come from the same one)."""
        return {"op": "DenoiseStream", "wavelet": self.bank.name,
                "dec_lo": self.bank.dec_lo.tolist(), "levels": self.levels,
                "alignment": self.alignment, "boundary": self.boundary,
                "threshold": self.threshold, "mode": self.mode, "sigma": self.sigma,
                "window": self.window, "hop": self.hop, "channels": self.channels}

    def children(self) -> dict[str, Stream]:
        """Stream hook: the analysis ``forward`` and, for an SWT bank, the synthesis filters
        (``synthesis_lo{j}``, ``synthesis_hi{j}``)."""
        parts: dict[str, Stream] = {"forward": self._forward}
        for j, (lo, hi) in enumerate(self._synthesis):
            parts[f"synthesis_lo{j + 1}"] = lo
            parts[f"synthesis_hi{j + 1}"] = hi
        return parts

    def new_state(self, batch: int, dtype: np.dtype) -> DenoiseState:
        """Stream hook: fresh running thresholds and delay lines for ``batch`` rows of ``dtype``."""
        return DenoiseState(
            RunningThresholds(self._gains, self.threshold, self.mode, self.sigma, self.window,
                              self.hop, self.channels),
            [DelayLine((batch, self.channels), lag, dtype) for lag in self._lags])

    def _denoise(self, coefficients: np.ndarray) -> np.ndarray:
        """``(J+1, B, C, m)`` aligned coefficients -> ``(B, C, m)`` (difference banks)
        or the synthesis output so far (SWT banks)."""
        parts = np.moveaxis(coefficients, 0, 1)  # (B, J+1, C, m)
        details = self.state.thresholds.apply(parts[:, : self.levels])
        c = parts[:, self.levels]
        if self.bank.difference:
            return c + details.sum(axis=1)
        for j in range(self.levels - 1, -1, -1):
            lo, hi = self._synthesis[j]
            w = self.state.lags[j].push(np.ascontiguousarray(details[:, j]))
            c = lo.step(c) + hi.step(w)
            c *= 1 / self._gain
        return c

    def step(self, x: np.ndarray) -> np.ndarray:
        """Stream hook: ``(B, C, m)`` in, the ready denoised ``(B, C, m')`` out."""
        if x.shape[-1]:
            self.state.last = x[..., -1:].copy()
        return self._denoise(self._forward.step(x))

    def finish(self) -> np.ndarray:
        """Stream hook: the last ``latency`` samples, ``(B, C, latency)`` (the boundary fed after
        the end)."""
        if self.bank.difference:
            return self._denoise(self._forward.finish())
        assert self.layout is not None
        batch, dtype = self.layout.batch, self.layout.dtype
        if self.state.last is None:
            return np.zeros((batch, self.channels, 0), dtype)
        shape = (batch, self.channels, self.latency)
        tail = np.broadcast_to(self.state.last, shape) if self.boundary == "edge" else \
            np.zeros(shape, dtype)
        return self._denoise(self._forward.step(np.ascontiguousarray(tail)))

    def export_state(self) -> dict[str, np.ndarray]:
        """Stream hook: the details' delay lines ``(B, C, lag)``, the running thresholds
        (``thresholds.*``) and the ``last`` sample ``(B, C, 1)``."""
        state = {}
        for j, lag in enumerate(self.state.lags):
            if lag.delay:
                state[f"lag{j + 1}.pending"] = lag.recent().copy()
        for key, value in self.state.thresholds.state().items():
            state[f"thresholds.{key}"] = value
        if self.state.last is not None:
            state["last"] = self.state.last.copy()
        return state

    def state_spec(self, layout: Layout) -> dict[str, ArraySpec | None]:
        """Each level's delay line, the thresholds' ``count``, ``lambdas`` ``(B, J, C)``
        (float64, >= 0) and ``history`` ``(B, J C, <= window)``, the ``last`` sample."""
        batch, dtype, channels = layout.batch, layout.dtype, self.channels
        spec: dict[str, ArraySpec | None] = {
            f"lag{j + 1}.pending": history_spec(batch, channels, lag, dtype, required=True)
            for j, lag in enumerate(self._lags) if lag}
        spec.update({
            "thresholds.count": count_spec(),
            "thresholds.lambdas": ArraySpec((batch, self.levels, channels),
                                            np.dtype(np.float64), required=False, low=0),
            "thresholds.history": history_spec(batch, self.levels * channels, self.window,
                                               dtype),
            "last": ArraySpec((batch, channels, 1), dtype, required=False)})
        return spec

    def check_state(self, arrays: Mapping[str, Any], layout: Layout) -> None:
        """The coefficients passed (``thresholds.count``: the forward's samples less its
        latency) fill the delay lines and the thresholds' window; ``last`` once fed."""
        fed = scalar(arrays, "forward.count")
        passed = max(0, fed - self._forward.latency)
        source = f", from 'forward.count' = {fed} samples fed"
        if scalar(arrays, "thresholds.count") != passed:
            raise ValueError(f"state 'thresholds.count' is {scalar(arrays, 'thresholds.count')}"
                             f", expected {passed} (the coefficients{source})")
        check_delay_lines(arrays, {f"lag{j + 1}.pending": lag
                                   for j, lag in enumerate(self._lags) if lag}, passed, source)
        check_synthesis(arrays, synthesis_geometry(self._synthesis, self._lags), passed, source)
        if fed and "thresholds.lambdas" not in arrays:
            raise ValueError(f"state is missing 'thresholds.lambdas' (the thresholds in "
                             f"force) after {fed} samples fed")
        fixed = fixed_thresholds(self.threshold, self.sigma)
        window = None if fixed or not passed else min(self.window, passed)
        held = np.shape(arrays["thresholds.history"])[-1] \
            if "thresholds.history" in arrays else None
        if held != window:
            raise ValueError(f"state 'thresholds.history' holds {held} coefficients, expected "
                             f"{window} (None: absent) after {passed} coefficients{source}")
        if ("last" in arrays) != (fed > 0):
            raise ValueError(f"state 'last' (the last input sample) must be there once samples "
                             f"were fed, and only then: 'forward.count' = {fed}")

    def import_state(self, arrays: Mapping[str, Any], batch: int, dtype: np.dtype) -> None:
        """Stream hook: load what ``export_state`` gave (shapes and dtype checked)."""
        for j, lag in enumerate(self.state.lags):
            name = f"lag{j + 1}.pending"
            if name in arrays:
                lag.load(checked_history(arrays[name], name, dtype,
                                         (batch, self.channels, lag.delay)))
        self.state.thresholds.load(sub_state(arrays, "thresholds"), batch, dtype)
        if "last" in arrays:
            last = np.asarray(arrays["last"])
            if last.shape != (batch, self.channels, 1) or last.dtype != dtype:
                raise ValueError(f"state 'last' must be {dtype} of shape "
                                 f"{(batch, self.channels, 1)}, got {last.dtype} {last.shape}")
            self.state.last = last.copy()


class Denoiser:
    """The streaming denoiser as an operator: ``op(x)`` runs a fresh ``DenoiseStream`` over
    the whole of ``x`` (one code path), ``op.stream()`` gives one to feed chunk by chunk.
    The options and defaults are ``DenoiseStream``'s (sym8, 5 levels: latency 465 samples).

    ``axis`` is where time runs in ``op(x)``'s input (``axis=0`` for soundfile's
    ``(frames, channels)``, with ``channels=C``); the stream takes its chunks time last,
    ``(m,)``, ``(C, m)`` or ``(B, C, m)`` (a ``(m, C)`` block goes in as ``block.T``). A
    2-D ``x`` whose rows are not the ``channels`` with the default ``axis=-1`` is refused
    with a hint (``x.T`` or ``axis=0``).

    Shape: ``(T,)``, ``(C, T)`` or ``(B, C, T)`` in (time on ``axis``), the same shape out.
    """

    def __init__(self, wavelet: WaveletLike = "sym8", levels: int = 5, *, axis: int = -1,
                 **options: Any) -> None:
        self.wavelet, self.levels, self.options = wavelet, levels, options
        self.axis = int(axis)
        self.latency = self.stream().latency

    def __repr__(self) -> str:
        name = getattr(self.wavelet, "name", self.wavelet)
        options = "".join(f", {key}={value!r}" for key, value in self.options.items())
        axis = "" if self.axis == -1 else f", axis={self.axis}"
        return f"Denoiser({name!r}, levels={self.levels}{options}{axis}, latency={self.latency})"

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        x = as_signal(x, "x")
        axis_index(self.axis, x.shape)
        moved = np.moveaxis(x, self.axis, -1)
        check_channels(moved.shape, self.options.get("channels", 1), self.axis, "Denoiser")
        stream = self.stream()
        y = stream.process(moved)
        return np.moveaxis(np.concatenate([y, stream.flush()], axis=-1), -1, self.axis)

    def stream(self, batch: int | None = None) -> DenoiseStream:
        """A fresh ``DenoiseStream`` with these options; ``batch`` fixes the batch size of 3-D
        chunks."""
        return DenoiseStream(self.wavelet, self.levels, batch=batch, **self.options)
