"""The wavelets and interpolators of the continuous wavelet transform (``wavedil.cwt``).

``ContinuousWavelet`` is a mother wavelet ψ(t) with what the transform needs to know about
it: its centre angular frequency ``omega`` (radians per unit of t), the ``half_width``
beyond which it is cut (the filter at scale a has ``2 ceil(half_width a) + 1`` taps), the
e-folding time ``efold`` of the cone of influence and whether it is Hermitian
(ψ(-t) = conj ψ(t), true of every wavelet with a real spectrum: the filters then fold).

- ``ContinuousWavelet.morlet(omega0=6)``: ψ(t) = √(2/π) (e^{iω0 t} - e^{-ω0²/2}) e^{-t²/2}
  (the admissible Morlet, zero mean), with spectrum Ψ̂(ω) = 2 (e^{-(ω-ω0)²/2} -
  e^{-(ω²+ω0²)/2}): its peak is 2 (MATLAB's L1 convention: with the transform's 1/a a real
  sinusoid of amplitude A gives |W| ≈ A at its scale).
- ``ContinuousWavelet.morse(beta=20, gamma=3)``: the generalized Morse wavelet (Lilly &
  Olhede 2009), Ψ̂(ω) = 2 (eγ/β)^{β/γ} ω^β e^{-ω^γ} for ω > 0 (peak 2 at
  ω = (β/γ)^{1/γ}); ψ(t) by quadrature of its spectrum.
- ``ContinuousWavelet.from_function(psi)``: any vectorised callable ψ(t), taken as given
  (no normalisation); its centre frequency, width and e-folding time are measured on a
  fine grid of ``|t| <= 64``.

``lagrange_interpolator(points)``: the interpolating lowpass of Holschneider's algorithm,
f[0] = 1, f[2k] = 0 for k ≠ 0, the odd taps Lagrange's weights for the midpoint from
``points`` neighbours: ``[1, 2, 1] / 2`` (2 points), ``[-1, 0, 9, 16, 9, 0, -1] / 16`` (4),
... Shensa (1992) shows it is the autocorrelation of the Daubechies filter with
``points / 2`` vanishing moments (the tests check it against the db tables).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

TAIL = 1e-5  # the cut wavelet's lost L1 mass, relative to the peak of |Ψ̂| (spectral error)
_GRID_EXTENT = 64.0  # the measuring grid of a user ψ: |t| <= 64 ...
_GRID_POINTS = 2**16 + 1  # ... in this many points
_DECAY = 1e-8  # |ψ| near the grid's ends must be below this times its peak

WaveletLike: TypeAlias = "str | ContinuousWavelet | Callable[[np.ndarray], Any]"


@dataclass(frozen=True, eq=False)
class ContinuousWavelet:
    """A mother wavelet ψ(t) for ``wavedil.cwt`` (see the module docstring).

    ``psi`` maps an array of times to complex values; ``omega`` is the centre angular
    frequency (a band of scale a is centred on ``omega / (2π a)`` cycles per sample).
    """

    name: str
    psi: Callable[[np.ndarray], Any]
    omega: float
    half_width: float
    efold: float
    hermitian: bool

    def __repr__(self) -> str:
        return (f"ContinuousWavelet({self.name!r}, omega={self.omega:.4g}, "
                f"half_width={self.half_width:.4g}, efold={self.efold:.4g}, "
                f"hermitian={self.hermitian})")

    def filter(self, scale: float) -> np.ndarray:
        """The correlation taps of scale ``scale``: ``c[k] = conj(ψ(k / a)) / a`` for
        ``k = -L .. L``, ``L = ceil(half_width a)``.

        Shape: ``(2L + 1,)`` complex128.
        """
        half = math.ceil(self.half_width * scale)
        k = np.arange(-half, half + 1, dtype=np.float64)
        taps = np.conj(np.asarray(self.psi(k / scale), dtype=np.complex128)) / scale
        if taps.shape != k.shape or not np.all(np.isfinite(taps)):
            raise ValueError(f"wavelet {self.name!r}: psi(t) must return {k.size} finite "
                             f"values for {k.size} times, got shape {taps.shape}")
        return taps

    @classmethod
    def morlet(cls, omega0: float = 6.0) -> ContinuousWavelet:
        """The admissible Morlet wavelet of centre frequency ``omega0`` (rad per unit t)."""
        omega0 = _positive(omega0, "omega0")
        if omega0 < 3:
            raise ValueError(f"omega0 must be >= 3 (below, the Morlet is far from analytic: "
                             f"its spectrum at 0 is {2 * math.exp(-omega0**2 / 2):.2g} of "
                             f"2), got {omega0}")
        gain, offset = math.sqrt(2 / math.pi), math.exp(-omega0**2 / 2)

        def psi(t: np.ndarray) -> np.ndarray:
            t = np.asarray(t, dtype=np.float64)
            return gain * (np.exp(1j * omega0 * t) - offset) * np.exp(-t**2 / 2)

        t = np.linspace(-_GRID_EXTENT / 4, _GRID_EXTENT / 4, 2**14 + 1)
        half_width, efold = _widths(t, psi(t), 2.0)
        return cls(f"morlet{omega0:g}", psi, omega0, half_width, efold, True)

    @classmethod
    def morse(cls, beta: float = 20.0, gamma: float = 3.0) -> ContinuousWavelet:
        """The generalized Morse wavelet of order ``beta`` and family ``gamma`` (peak 2)."""
        beta, gamma = _positive(beta, "beta"), _positive(gamma, "gamma")
        if beta < 1:
            raise ValueError(f"beta must be >= 1 (a Morse wavelet with beta < 1 barely "
                             f"decays in time), got {beta}")
        peak = (beta / gamma) ** (1 / gamma)
        log_norm = math.log(2) + beta / gamma * (1 + math.log(gamma) - math.log(beta))
        top = peak
        while beta * math.log(top) - top**gamma + log_norm > math.log(1e-18):
            top *= 1.25  # the spectrum is below 1e-18 beyond top
        omegas = np.linspace(0.0, top, 4097)[1:]
        spectrum = np.exp(log_norm + beta * np.log(omegas) - omegas**gamma)
        weights = spectrum * (omegas[1] - omegas[0]) / (2 * np.pi)

        def psi(t: np.ndarray) -> np.ndarray:
            t = np.asarray(t, dtype=np.float64)
            flat = t.reshape(-1)
            out = np.empty(flat.shape, np.complex128)
            for start in range(0, flat.size, 256):  # (256, 4096) blocks of e^{iωt}
                part = flat[start : start + 256]
                out[start : start + 256] = np.exp(1j * np.outer(part, omegas)) @ weights
            return out.reshape(t.shape)

        # measured on ψ at t = n dt, |n| < size / 2, from an inverse FFT of the spectrum
        size, dt = 2**14, 1 / 32
        grid = 2 * np.pi * np.fft.fftfreq(size, dt)
        inside = grid > 0
        spectrum_grid = np.zeros(size)
        spectrum_grid[inside] = np.exp(log_norm + beta * np.log(grid[inside])
                                       - grid[inside] ** gamma)
        values = np.fft.fftshift(np.fft.ifft(spectrum_grid)) / dt
        t = (np.arange(size) - size // 2) * dt
        half_width, efold = _widths(t[1:], values[1:], 2.0)
        return cls(f"morse{beta:g},{gamma:g}", psi, peak, half_width, efold, True)

    @classmethod
    def from_function(cls, psi: Callable[[np.ndarray], Any],
                      name: str = "custom") -> ContinuousWavelet:
        """A wavelet from a vectorised callable ψ(t), measured on ``|t| <= 64``."""
        if not callable(psi):
            raise TypeError(f"psi must be a callable psi(t), got {type(psi).__name__}")
        t = np.linspace(-_GRID_EXTENT, _GRID_EXTENT, _GRID_POINTS)
        values = np.asarray(psi(t), dtype=np.complex128)
        if values.shape != t.shape or not np.all(np.isfinite(values)):
            raise ValueError(f"psi(t) must return {t.size} finite values for an array of "
                             f"{t.size} times, got shape {values.shape}")
        peak = float(np.max(np.abs(values)))
        if peak == 0:
            raise ValueError("psi(t) is zero everywhere on |t| <= 64")
        ends = np.abs(t) > 0.9 * _GRID_EXTENT
        if float(np.max(np.abs(values[ends]))) > _DECAY * peak:
            raise ValueError(f"psi(t) must decay: |psi| at |t| > {0.9 * _GRID_EXTENT:g} is "
                             f"{np.max(np.abs(values[ends])) / peak:.2g} of its peak (at most "
                             f"{_DECAY:g}); rescale t")
        dt = float(t[1] - t[0])
        size = 4 * t.size
        spectrum = np.abs(np.fft.fft(values, size)) * dt
        omegas = 2 * np.pi * np.fft.fftfreq(size, dt)
        best = int(np.argmax(spectrum))
        omega = abs(float(omegas[best]))
        if omega == 0:
            raise ValueError("psi(t) has its spectral peak at frequency 0: not a wavelet")
        hermitian = bool(np.allclose(values[::-1], np.conj(values), rtol=0,
                                     atol=1e-12 * peak))
        half_width, efold = _widths(t, values, float(spectrum[best]))
        return cls(str(name), psi, omega, half_width, efold, hermitian)


def _positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _widths(t: np.ndarray, values: np.ndarray, spectral_peak: float) -> tuple[float, float]:
    """``(half_width, efold)`` of a wavelet sampled at the symmetric grid ``t``.

    half_width: the smallest h with ``∫_{|t|>h} |ψ| dt <= TAIL * spectral_peak`` (the cut
    costs at most that in the spectrum); efold: the largest |t| where ``|ψ(t)|`` is still
    ``|ψ(0)| / e`` or more (√2 for the Morlet: Torrence & Compo's cone of influence).
    """
    magnitude = np.abs(values)
    dt = float(t[1] - t[0])
    centre = t.size // 2
    outside = magnitude[centre:][::-1] + magnitude[: centre + 1]  # |ψ(h)| + |ψ(-h)|, h down
    tail = np.cumsum(outside)[::-1] * dt  # tail[i] ≈ ∫_{|t| > t[centre + i]} |ψ|
    inside = np.nonzero(tail > TAIL * spectral_peak)[0]
    half_width = float(t[centre + inside[-1] + 1]) if inside.size else float(t[centre + 1])
    above = np.nonzero(magnitude >= magnitude[centre] / math.e)[0]
    efold = float(np.max(np.abs(t[above]))) if magnitude[centre] > 0 else half_width / 3
    return half_width, efold


def resolve_wavelet(wavelet: WaveletLike) -> ContinuousWavelet:
    """``"morlet"`` (ω0 = 6), ``"morse"`` (β = 20, γ = 3), a ``ContinuousWavelet`` or a
    callable ψ(t)."""
    if isinstance(wavelet, ContinuousWavelet):
        return wavelet
    if isinstance(wavelet, str):
        if wavelet == "morlet":
            return _morlet_default()
        if wavelet == "morse":
            return _morse_default()
        raise ValueError(f"wavelet must be 'morlet', 'morse', a ContinuousWavelet or a "
                         f"callable psi(t), got {wavelet!r}")
    if callable(wavelet):
        return ContinuousWavelet.from_function(wavelet)
    raise TypeError(f"wavelet must be 'morlet', 'morse', a ContinuousWavelet or a callable "
                    f"psi(t), got {type(wavelet).__name__}")


_DEFAULTS: dict[str, ContinuousWavelet] = {}


def _morlet_default() -> ContinuousWavelet:
    if "morlet" not in _DEFAULTS:
        _DEFAULTS["morlet"] = ContinuousWavelet.morlet()
    return _DEFAULTS["morlet"]


def _morse_default() -> ContinuousWavelet:
    if "morse" not in _DEFAULTS:
        _DEFAULTS["morse"] = ContinuousWavelet.morse()
    return _DEFAULTS["morse"]


def lagrange_interpolator(points: int) -> np.ndarray:
    """Holschneider's interpolating filter from ``points`` (even) neighbours.

    ``f[c] = 1`` at the centre ``c = points - 1``, ``f[c ± 2k] = 0``, and ``f[c ± (2k - 1)]``
    the Lagrange weight of the node ±(2k - 1) for the value at 0 from the nodes ±1, ±3, ...,
    ±(points - 1). It sums to 2.

    Shape: ``(2 points - 1,)``.

    >>> (lagrange_interpolator(4) * 16).tolist()
    [-1.0, 0.0, 9.0, 16.0, 9.0, 0.0, -1.0]
    """
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 2 \
            or points % 2 or points > 64:
        raise ValueError(f"interpolator must be an even number of points in 2 .. 64 (2: "
                         f"linear, 4: cubic, ...), got {points!r}")
    points = int(points)
    nodes = np.arange(-(points - 1), points, 2)
    f = np.zeros(2 * points - 1)
    centre = points - 1
    f[centre] = 1.0
    for i, node in enumerate(nodes):
        others = np.delete(nodes, i)
        f[centre + node] = float(np.prod(-others / (node - others)))
    return f

