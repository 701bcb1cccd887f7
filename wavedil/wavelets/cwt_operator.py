"""The CWT as an operator, ``CWT``: the offline call and its streams, like the other
transforms' operators (``wavedil.AtrousTransform``).

``CWT(...)(x)`` is ``wavedil.cwt(x, ...).coefficients``; ``.stream()`` a ``CWTStream``,
``.stream(decimate=True)`` a ``DecimatedCWTStream``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ..engine.checks import positive_int
from ..engine.finite import as_signal
from ..engine.spec import Branches
from .cwt_decimated import DecimatedCWTStream
from .cwt_plan import make_plan
from .cwt_stream import CWTStream, _options, transform_rows
from .cwt_wavelets import WaveletLike
from .streams import STREAM_BOUNDARIES


class CWT:
    """The CWT as an operator: offline call, ``.stream()``, per-band facts.

    ``op(x)`` equals ``wavedil.cwt(x, ...).coefficients`` (time last; boundary ``"zero"``
    or ``"edge"``) and what ``op.stream()`` returns chunk by chunk.

    Args:
        wavelet: ``"morlet"`` (ω0 = 6), ``"morse"``, a ``ContinuousWavelet`` or a callable.
        octaves, voices: ``octaves * voices`` bands at scales ``scale0 2^(j + m/voices)``.
        scale0: the smallest scale in samples; a0: octaves below it are computed directly.
        interpolator: the Lagrange interpolator's points (2, 4, 6, 8, ...).
        alignment: ``"centered"`` (latency: the largest lookahead) or ``"causal"`` (0).
        boundary: ``"zero"`` or ``"edge"``; channels: C of each chunk.

    Shape: ``(T,)``, ``(C, T)`` or ``(B, C, T)`` in; ``(bands, *x.shape)`` complex out.
    """

    def __init__(self, wavelet: WaveletLike = "morlet", octaves: int = 8, voices: int = 12,
                 scale0: float = 2.0, a0: float = 8.0, interpolator: int = 8,
                 alignment: str = "centered", boundary: str = "zero",
                 channels: int = 1) -> None:
        if boundary not in STREAM_BOUNDARIES:
            raise ValueError(f"CWT's boundary must be one of {STREAM_BOUNDARIES} (wavedil.cwt "
                             f"offers periodic, symmetric and reflect), got {boundary!r}")
        self.plan = make_plan(wavelet, octaves, voices, scale0, a0, interpolator, alignment)
        self.boundary = boundary
        self.channels = positive_int(channels, "channels")

    def __repr__(self) -> str:
        return f"CWT({_options(self.plan, self.boundary, self.channels)})"

    @property
    def latency(self) -> int:
        """Samples a stream holds back: the largest band lookahead (0 when causal)."""
        return self.plan.latency

    @property
    def spec(self) -> Branches:
        """The spec tree (``wavedil.receptive_field(op)``, ``wavedil.halo(op)``)."""
        return self.plan.spec

    @property
    def scales(self) -> np.ndarray:
        """``(bands,)``: each band's scale in samples, ``scale0 2^(j + m/voices)``, increasing."""
        return self.plan.scales.copy()

    def frequencies(self, sample_rate: float | None = None) -> np.ndarray:
        """Per band, the centre frequency (cycles per sample, or Hz given ``sample_rate``)."""
        return self.plan.frequencies(sample_rate)

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        x = as_signal(x, "x")
        if x.ndim not in (1, 2, 3) or (x.ndim > 1 and x.shape[-2] != self.channels):
            raise ValueError(f"x must be (T,), ({self.channels}, T) or (B, {self.channels}, "
                             f"T) for channels={self.channels}, got shape {x.shape}")
        if x.ndim == 1 and self.channels != 1:
            raise ValueError(f"a (T,) signal has 1 channel, this CWT expects "
                             f"{self.channels}: give ({self.channels}, T)")
        rows = np.ascontiguousarray(x).reshape(math.prod(x.shape[:-1]), x.shape[-1])
        y = transform_rows(self.plan, rows, self.boundary)
        return y.reshape((self.plan.bands,) + x.shape)

    def stream(self, batch: int | None = None, decimate: bool = False) -> CWTStream:
        """A ``CWTStream``, or with ``decimate=True`` a ``DecimatedCWTStream`` (octave j
        every 2^j samples: a list of per-octave chunks out)."""
        plan = self.plan
        kind = DecimatedCWTStream if decimate else CWTStream
        return kind(plan.wavelet, plan.octaves, plan.voices, plan.scale0, plan.a0,
                    plan.interpolator, plan.alignment, self.boundary, self.channels, batch)
