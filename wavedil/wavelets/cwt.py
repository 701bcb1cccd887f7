"""The continuous wavelet transform offline: ``cwt`` and its ``CWTResult``.

Holschneider, Kronland-Martinet, Morlet & Tchamitchian's algorithm (1989; Shensa 1992):
``octaves * voices`` bands at scales ``a = scale0 2^(j + m/voices)``, the octaves from
``a0`` on computed with holes (the lowpass cascade of ``wavedil.wavelets.cwt_plan``), so a
band costs the same few taps at every scale; the octaves below ``a0`` are computed directly
with the sampled wavelet. The band of scale a approximates the exact (sampled) CWT

    W_a[n] = (1/a) sum_k x[n + k] conj(ψ(k/a))

(L1 normalisation: with ``"morlet"`` or ``"morse"`` a real sinusoid of amplitude A at a
band's centre frequency gives |W| ≈ A). The approximation error falls with ``a0`` and the
interpolator's order; the defaults (a0 = 8, 8-point Lagrange) stay below 0.1 % (README:
the measured table).

``decimate=True`` keeps octave j on a grid of hop 2^j (``result.octave(j)``; the same
values as the undecimated transform on that grid, up to rounding): each level then runs
on its signal taken every 2^l samples, the Mallat-like pyramid Shensa wed to the à trous
algorithm, and the coefficients take about ``2 voices T`` instead of ``octaves voices T``
(one engine, ``wavedil.wavelets.cwt_decimated``, serves it and its stream,
``CWT(...).stream(decimate=True)``).

Shape: ``x`` ``(..., T)`` with time on ``axis``; ``coefficients`` ``(bands, *x.shape)``
complex (complex64 for float32 input).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..engine.checks import positive_int
from ..engine.finite import as_signal
from ..engine.params import axis_index, finite_number, flag
from .cwt_decimated import decimated_rows
from .cwt_plan import CWTPlan, default_octaves, make_plan
from .cwt_stream import transform_rows
from .cwt_wavelets import WaveletLike

BOUNDARIES = ("zero", "edge", "periodic", "symmetric", "reflect")


@dataclass(frozen=True, eq=False)
class CWTResult:
    """What ``cwt`` returns: the coefficients and what they mean.

    ``octave(j)`` is octave j's ``(voices, *shape_j)`` block (every sample, or every
    ``hops[j]``-th when decimated); ``coefficients`` all bands at once (undecimated only).
    ``scales``, ``frequencies`` (Hz given ``sample_rate``, else cycles per sample),
    ``delays`` (samples each band comes out late: half its support when causal),
    ``lookahead`` (the future samples each band reads), ``cone`` (the cone of influence's
    half width per band, in samples) are per band.
    """

    plan: CWTPlan
    blocks: tuple[np.ndarray, ...]  # per octave: (voices, *x.shape_j), time on `axis`
    length: int
    boundary: str
    decimate: bool
    sample_rate: float | None
    axis: int  # of x (negative); the coefficients' time axis is the same from the end

    def __repr__(self) -> str:
        shape = self.blocks[0].shape[1:]
        return (f"CWTResult({self.plan.wavelet.name!r}, octaves={self.plan.octaves}, "
                f"voices={self.plan.voices}, shape={shape}, dtype={self.blocks[0].dtype}, "
                f"alignment={self.plan.alignment!r}, boundary={self.boundary!r}, "
                f"decimate={self.decimate})")

    @property
    def coefficients(self) -> np.ndarray:
        """``(bands, *x.shape)`` complex, bands by increasing scale (undecimated only)."""
        if self.decimate:
            raise ValueError("a decimated result has octaves of different lengths: use "
                             "result.octave(j) (hop result.hops[j]) or cwt(..., "
                             "decimate=False)")
        return self.blocks[0] if len(self.blocks) == 1 else np.concatenate(self.blocks)

    def octave(self, j: int) -> np.ndarray:
        """Octave ``j``'s ``(voices, ...)`` coefficients (every ``hops[j]``-th sample)."""
        if not 0 <= j < len(self.blocks):
            raise ValueError(f"octave must be 0 .. {len(self.blocks) - 1}, got {j}")
        return self.blocks[j]

    @property
    def hops(self) -> np.ndarray:
        """Per octave, the samples between its columns (1, or 2^j when decimated)."""
        octaves = np.arange(self.plan.octaves)
        return 2**octaves if self.decimate else np.ones_like(octaves)

    @property
    def scales(self) -> np.ndarray:
        """``(bands,)``: each band's scale in samples, increasing."""
        return self.plan.scales.copy()

    @property
    def frequencies(self) -> np.ndarray:
        """``(bands,)``: each band's centre frequency, in Hz given ``sample_rate``, else in cycles
        per sample."""
        return self.plan.frequencies(self.sample_rate)

    @property
    def delays(self) -> np.ndarray:
        """``(bands,)``: the samples each band comes out late (half its support when causal, else
        0)."""
        return self.plan.delays

    @property
    def lookahead(self) -> np.ndarray:
        """``(bands,)``: the future samples each band reads (0 when causal)."""
        return self.plan.lookahead

    @property
    def cone(self) -> np.ndarray:
        """``(bands,)``: the cone of influence's half width in samples (``√2 a`` for the Morlet)."""
        return self.plan.cone

    def cone_mask(self) -> np.ndarray:
        """``(bands, T)`` bool: True where the boundary reaches a coefficient, within
        ``cone`` samples of either end (after the band's delay)."""
        n = np.arange(self.length)[None, :] - self.delays[:, None]
        reach = self.cone[:, None]
        return (n < reach) | (n > self.length - 1 - reach)


def cwt(x: npt.ArrayLike, wavelet: WaveletLike = "morlet", octaves: int | None = None,
        voices: int = 12, scale0: float = 2.0, a0: float = 8.0, interpolator: int = 8,
        alignment: str = "centered", boundary: str = "zero", decimate: bool = False,
        sample_rate: float | None = None, axis: int = -1) -> CWTResult:
    """The continuous wavelet transform of ``x`` along ``axis`` (module docstring).

    Args:
        x: the signal; float32 gives complex64, float64 and integers complex128.
        wavelet: ``"morlet"`` (ω0 = 6), ``"morse"`` (β = 20, γ = 3), a
            ``ContinuousWavelet`` (``.morlet(omega0)``, ``.morse(beta, gamma)``) or a
            callable ψ(t).
        octaves: J; None picks the most whose largest filter fits T.
        voices: M bands per octave.
        scale0: the smallest scale, in samples (at least ``omega / π``: Nyquist).
        a0: octaves whose scale is below it are computed directly, the others with holes.
        interpolator: the points of the Lagrange interpolator (2, 4, 6, 8, ...).
        alignment: ``"centered"`` (each output centred on its sample) or ``"causal"``
            (only the past: band b comes out ``delays[b]`` samples late).
        boundary: ``"zero"``, ``"edge"``, ``"periodic"``, ``"symmetric"`` or ``"reflect"``
            (how x is extended).
        decimate: octave j on a grid of hop 2^j.
        sample_rate: samples per second, for ``frequencies`` in Hz.

    Its operator twin ``CWT`` has the same defaults (``octaves=8``; boundary ``"zero"``
    or ``"edge"``, time last): ``CWT(...)(x)`` equals ``cwt(x, ...).coefficients``, and
    ``CWT(...).stream(decimate=True)`` gives ``cwt(x, ..., decimate=True).octave(j)``
    chunk by chunk.

    Shape: ``x`` ``(..., T)``; ``coefficients`` ``(bands, *x.shape)``.
    """
    x = as_signal(x, "x")
    if x.ndim == 0:
        raise ValueError(f"x must have a time axis, got a scalar of shape {x.shape}")
    axis = axis_index(axis, x.shape)
    axis = axis % x.ndim
    length = x.shape[axis]
    if x.ndim == 2 and 0 < length < 64 and x.shape[1 - axis] > 4 * length:
        raise ValueError(f"x of shape {x.shape} has only {length} samples on axis {axis} "
                         f"and {x.shape[1 - axis]} on the other: if time is the other axis, "
                         f"pass axis={1 - axis} (or x.T)")
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
    if sample_rate is not None and not (finite_number(sample_rate) and sample_rate > 0):
        raise ValueError(f"sample_rate must be a positive number, got {sample_rate!r}")
    voices = positive_int(voices, "voices")
    decimate = flag(decimate, "decimate")
    if octaves is None:
        octaves = default_octaves(length, wavelet, voices, float(scale0))
    plan = make_plan(wavelet, octaves, voices, scale0, a0, interpolator, alignment)
    moved = np.moveaxis(x, axis, -1)
    rows = np.ascontiguousarray(moved).reshape(math.prod(moved.shape[:-1]), length)
    if decimate:
        blocks = tuple(decimated_rows(plan, rows, boundary))
    else:
        out = transform_rows(plan, rows, boundary)
        blocks = tuple(out[j * voices : (j + 1) * voices] for j in range(plan.octaves))
    time_axis = axis + 1  # in a block: (voices, *x.shape)
    shaped = tuple(np.moveaxis(b.reshape((voices,) + moved.shape[:-1] + (b.shape[-1],)), -1,
                               time_axis) for b in blocks)
    return CWTResult(plan, shaped, length, boundary, decimate,
                     None if sample_rate is None else float(sample_rate), axis - x.ndim)
