"""The geometry of Holschneider's real-time CWT: scales, filters, extents, delays.

Scales ``a = scale0 2^(j + m/M)`` for octave j = 0..J-1 and voice m = 0..M-1, one band per
scale, ordered by increasing scale (decreasing frequency): band ``j M + m``. The band of
scale a is the correlation of x with the sampled wavelet ``c_a[k] = conj(ψ(k/a)) / a``
(``ContinuousWavelet.filter``), ``k = -L .. L``:

    W_a[n] = sum_k c_a[k] x[n + k]                      (the exact CWT, "centered")

Octaves whose scales are below ``a0`` are computed that way ("direct"). From the first octave
j0 with ``scale0 2^j0 >= a0`` on, Holschneider's algorithm (à trous) takes over: with the
interpolating lowpass ``h = f / 2`` (``f = lagrange_interpolator(points)``),

    x_0 = x,  x_{l+1}[n] = sum_t h[t] x_l[n + 2^l (t - T)]     (T = points - 1)
    W_{j0+l, m}[n] = sum_k c_{base m}[k] x_l[n + 2^l k]        (base m: scale0 2^(j0 + m/M))

so level l reads its input ``2^l`` samples apart and every band costs the taps of its base
filter, whatever its scale: ``h``'s dilated cascade interpolates the base filter's samples
(Lagrange, ``points`` nodes) into the filter of scale ``2^l`` times larger. It is an
approximation of the exact CWT whose error falls with ``a0`` and ``points``
(README: the table).

Alignment: ``"centered"`` as above (each output n is the analysis centred on n; a stream
waits for the lookahead); ``"causal"`` shifts every filter to read only the present and
the past, so band b comes out ``delays[b]`` samples late (half its support: Holschneider's
real-time form, zero latency). Extents are ``(left, right)`` pairs in samples of x.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..engine.checks import positive_int
from ..engine.params import check_budget
from ..engine.spec import Branches, Chain, LayerSpec
from .cwt_wavelets import ContinuousWavelet, WaveletLike, lagrange_interpolator, resolve_wavelet

ALIGNMENTS = ("centered", "causal")
_SNAP = 1e-9  # a scale within this relative distance of a0 counts as a0


@dataclass(frozen=True, eq=False)
class CWTPlan:
    """Scales, filters and extents of a CWT configuration (see the module docstring).

    Shape: per-band arrays are ``(octaves * voices,)``.
    """

    wavelet: ContinuousWavelet
    octaves: int
    voices: int
    scale0: float
    a0: float
    interpolator: int
    alignment: str
    scales: np.ndarray = field(init=False, repr=False)  # (bands,)
    levels: np.ndarray = field(init=False, repr=False)  # (bands,): the x_l a band reads
    filters: tuple[np.ndarray, ...] = field(init=False, repr=False)  # per band, complex
    lowpass: np.ndarray = field(init=False, repr=False)  # h = f / 2
    reach: np.ndarray = field(init=False, repr=False)  # (bands, 2): left, right in x

    def __post_init__(self) -> None:
        octaves, voices = self.octaves, self.voices
        exponents = np.arange(octaves)[:, None] + np.arange(voices)[None, :] / voices
        scales = (self.scale0 * 2.0**exponents).reshape(-1)
        first = self.first_atrous_octave
        levels = np.repeat(np.maximum(np.arange(octaves) - first, 0), voices)
        base = [self.wavelet.filter(self.scale0 * 2.0 ** (first + m / voices))
                for m in range(voices)] if first < octaves else []
        filters = tuple(self.wavelet.filter(float(scales[b])) if b < first * voices
                        else base[b % voices] for b in range(scales.size))
        lowpass = lagrange_interpolator(self.interpolator) / 2
        set_ = object.__setattr__
        set_(self, "scales", scales)
        set_(self, "levels", levels)
        set_(self, "filters", filters)
        set_(self, "lowpass", lowpass)
        reach = np.zeros((scales.size, 2), np.int64)
        for b in range(scales.size):
            level = int(levels[b])
            for i in range(level):
                reach[b] += self.lowpass_extent(i)
            reach[b] += self.band_extent(b)
        set_(self, "reach", reach)

    # -- the pieces --------------------------------------------------------------------------
    @property
    def bands(self) -> int:
        return self.octaves * self.voices

    @property
    def first_atrous_octave(self) -> int:
        """j0: the first octave with ``scale0 2^j0 >= a0`` (octaves before it are direct)."""
        ratio = self.a0 / self.scale0
        if ratio <= 1 + _SNAP:
            return 0
        return min(self.octaves, math.ceil(math.log2(ratio) - _SNAP))

    @property
    def depth(self) -> int:
        """The deepest x_l any band reads (0: every band is direct, no lowpass runs)."""
        return int(self.levels.max(initial=0))

    def lowpass_extent(self, level: int) -> tuple[int, int]:
        """``(left, right)`` of the lowpass from x_level to x_(level+1) (dilation 2^level)."""
        span = (self.lowpass.size - 1) * 2**level
        return (span // 2, span // 2) if self.alignment == "centered" else (span, 0)

    def band_extent(self, band: int) -> tuple[int, int]:
        """``(left, right)`` of band ``band``'s filter on its x_l (dilation 2^l)."""
        span = (self.filters[band].size - 1) * 2 ** int(self.levels[band])
        return (span // 2, span // 2) if self.alignment == "centered" else (span, 0)

    # -- what users read ---------------------------------------------------------------------
    @property
    def lookahead(self) -> np.ndarray:
        """Per band, the future samples it reads (its own latency in a stream; 0 if causal)."""
        return self.reach[:, 1].copy()

    @property
    def latency(self) -> int:
        """The stream's latency: the largest lookahead (every band comes out together)."""
        return int(self.reach[:, 1].max(initial=0))

    @property
    def delays(self) -> np.ndarray:
        """Per band, how late its output is: half its support when causal, else 0."""
        if self.alignment == "centered":
            return np.zeros(self.bands, np.int64)
        return self.reach[:, 0] // 2

    @property
    def support(self) -> np.ndarray:
        """Per band, the samples of x its output reads: ``left + right + 1``."""
        return self.reach.sum(axis=1) + 1

    @property
    def cone(self) -> np.ndarray:
        """Per band, the cone of influence's half width in samples: ``efold * scale``
        (√2 a for the Morlet: where the edge's effect on the power has fallen by e²)."""
        return self.wavelet.efold * self.scales

    def frequencies(self, sample_rate: float | None = None) -> np.ndarray:
        """Per band, the centre frequency ``omega / (2π a)``: in cycles per sample, or in Hz
        times ``sample_rate``."""
        cycles = self.wavelet.omega / (2 * np.pi * self.scales)
        return cycles if sample_rate is None else cycles * float(sample_rate)

    @property
    def spec(self) -> Branches:
        """The spec tree for receptive fields and halos: one path per band (its level's
        lowpasses, then its filter)."""
        lows = [LayerSpec(self.lowpass.size, 2**i, 1, *self.lowpass_extent(i),
                          name=f"cwt lowpass {i + 1}", bias=False) for i in range(self.depth)]
        paths = []
        for b in range(self.bands):
            level = int(self.levels[b])
            band = LayerSpec(self.filters[b].size, 2**level, 1, *self.band_extent(b),
                             name=f"cwt band {b}", bias=False)
            paths.append(Chain(tuple(lows[:level]) + (band,)))
        return Branches(tuple(paths))

    def equivalent_filter(self, band: int) -> np.ndarray:
        """The correlation taps the algorithm applies to x for band ``band``: its base
        filter dilated by 2^l through l dilated lowpasses (``k = -left .. right`` of x, for
        the centered alignment; the causal one is the same taps read ``left + right`` back).

        Shape: ``(support[band],)`` complex.
        """
        level = int(self.levels[band])
        taps = _dilated(self.filters[band], 2**level)
        for i in range(level):
            taps = np.convolve(taps, _dilated(self.lowpass, 2**i))
        return taps


def _dilated(taps: np.ndarray, dilation: int) -> np.ndarray:
    out = np.zeros((taps.size - 1) * dilation + 1, taps.dtype)
    out[::dilation] = taps
    return out


def make_plan(wavelet: WaveletLike, octaves: int, voices: int, scale0: float, a0: float,
              interpolator: int, alignment: str) -> CWTPlan:
    """A checked ``CWTPlan`` (ValueError/TypeError quoting the bad option)."""
    wave = resolve_wavelet(wavelet)
    octaves, voices = positive_int(octaves, "octaves"), positive_int(voices, "voices")
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    scale0, a0 = _scale(scale0, "scale0"), _scale(a0, "a0")
    lagrange_interpolator(interpolator)  # checks it
    nyquist_scale = wave.omega / math.pi
    if scale0 < nyquist_scale * (1 - _SNAP):
        raise ValueError(f"scale0 = {scale0:g} puts the {wave.name} wavelet's centre "
                         f"frequency above Nyquist (omega / scale0 = {wave.omega / scale0:.3g} "
                         f"> pi rad per sample): use scale0 >= {nyquist_scale:.4g}")
    if octaves * voices > 4096:
        raise ValueError(f"octaves * voices must be at most 4096 bands, got {octaves} * "
                         f"{voices} = {octaves * voices}")
    span = 2 * math.ceil(wave.half_width * scale0 * 2.0 ** min(octaves, 1000)) + 1
    check_budget(16.0 * span * (voices + 8), f"a CWT of octaves={octaves} from scale0={scale0:g}"
                 f": the largest scale's filter spans {span:.4g} samples (the padded input, "
                 f"its cascade and the {voices} voices' rows of them in complex128)",
                 "use fewer octaves")
    return CWTPlan(wave, octaves, voices, scale0, a0, int(interpolator), alignment)


def _scale(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0 (a scale in samples), got "
                         f"{value!r}")
    return float(value)


def default_octaves(length: int, wavelet: WaveletLike, voices: int, scale0: float) -> int:
    """The most octaves whose largest scale's filter (``2 ceil(half_width a) + 1`` taps)
    still fits ``length`` samples (at least 1)."""
    wave = resolve_wavelet(wavelet)
    octaves = 1
    while octaves < 40:
        top = scale0 * 2 ** (octaves + (voices - 1) / voices)
        if 2 * math.ceil(wave.half_width * top) + 1 > length:
            break
        octaves += 1
    return octaves
