"""Live resynthesis: analysis, your function on every chunk of coefficients, synthesis.

``ResynthesisStream(wavelet, levels, fn)`` runs the forward stream (``AtrousStream``),
``fn`` on the coefficients of each chunk, and the inverse stream (``InverseAtrousStream``),
as one stream; ``Resynthesis`` is its operator form (``op(x)``, ``op.stream()``).

Latency: an SWT bank (haar, db, sym, coif, user and biorthogonal pairs) analyses causally
and its synthesis reads ``(K-1)(2^J - 1)`` coefficients ahead; a difference bank
(``"starlet"``, ``"linear"``) has the forward's latency (0 for the causal alignment).

What it computes (the offline twin, for ``x`` of T samples and latency L)::

    tail = L zeros (boundary "zero") or L copies of the last sample ("edge")
    c    = atrous(concat(x, tail), wavelet, levels, alignment, boundary, norm).stack()
    y    = synthesis(fn(c))[..., :T]

where the synthesis is ``InverseAtrousStream``'s (for an SWT bank: ``iatrous`` of the causal
coefficients followed by zeros). With ``fn`` the identity, ``y == x`` (to rounding) for
every perfect-reconstruction bank. ``flush`` feeds the tail through the chain.

``fn`` sees the coefficients as ``AtrousStream.process`` gives them,
``(levels + 1, *chunk_shape)`` (``w_1 .. w_J, c_J``, time last), and returns an array of
that shape (cast to the stream's dtype). The stream equals its twin for any chunking when

- ``fn`` is a plain callable that is memoryless in time: output sample n depends on input
  sample n alone (it may mix bands and channels: gains, thresholds, per-sample rules); or
- ``fn`` has ``process(coefficients)`` (a stream-like object: a compressor, an envelope
  follower): it is called on every chunk in order, must return as many samples as it gets
  (no latency), and its concatenated outputs must not depend on how the coefficients are
  cut. Its optional ``reset()`` is called when the stream starts or resets, and its
  ``state_dict()`` / ``load_state_dict(state)`` (plain numpy arrays) are saved and loaded
  with the stream's state under ``fn.``. Its ``flush`` is never called.

Chunks of no samples do not reach ``fn``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ..engine.checks import positive_int
from ..engine.finite import as_signal
from ..engine.params import flag
from ..engine.state import FREE, ArraySpec, check_delay_lines, scalar
from ..engine.stream import Layout, Stream, single_consumer, sub_state
from .banks import WaveletLike, filter_bank
from .guards import check_stream_levels
from .streams import (
    AtrousStream,
    InverseAtrousStream,
    check_stream_options,
    check_synthesis,
)

# what ``fn`` may be: None (the identity), ``fn(coefficients) -> coefficients`` (memoryless) or
# an object with ``process(coefficients) -> coefficients`` (see the module docstring)
BandFunction: TypeAlias = "Callable[[np.ndarray], npt.ArrayLike] | Any"


@dataclass
class ResynthesisState:
    """A resynthesis stream's own memory (its forward and inverse streams keep theirs)."""

    last: np.ndarray | None = None  # the last input sample, (B, C, 1): the "edge" tail


def fn_name(fn: Any) -> str:
    """A short name of ``fn`` for reprs and the stream's configuration."""
    if fn is None:
        return "identity"
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return str(name)


def is_stream_like(fn: Any) -> bool:
    """Whether ``fn`` is used through ``fn.process`` (else it is called)."""
    return callable(getattr(fn, "process", None))


class ResynthesisStream(Stream):
    """Analysis, ``fn`` on the coefficients, synthesis: chunk by chunk (module docstring).

    Args:
        wavelet: a name, FilterBank, ``(lowpass, highpass)`` pair or pywt-like object
            (a perfect-reconstruction bank).
        levels: J >= 1.
        fn: None (the identity), a memoryless callable or a stream-like object (see the
            module docstring for what it must satisfy).
        alignment: ``"causal"``; a difference bank also takes ``"centered"`` or ``"pywt"``
            (with the forward's latency).
        boundary: ``"zero"`` or ``"edge"``: what the analysis sees before the start and
            what ``flush`` feeds after the end.
        norm: MODWT normalisation of the coefficients ``fn`` sees.
        channels: C, the channels of each chunk.
        batch: fixes the batch size of 3-D chunks (None: any, fixed by the first chunk).

    Shape: chunks ``(m,)``, ``(C, m)`` or ``(B, C, m)`` in, the same layout out.
    """

    state: ResynthesisState  # set by start (the base class's protocol), before any step

    def __init__(self, wavelet: WaveletLike, levels: int,
                 fn: BandFunction = None,
                 alignment: str = "causal", boundary: str = "zero", norm: bool = False,
                 channels: int = 1, batch: int | None = None) -> None:
        self.bank = filter_bank(wavelet)
        self.levels = check_stream_levels(self.bank, levels, "ResynthesisStream", copies=2)
        check_stream_options(alignment, boundary)
        if not self.bank.difference and alignment != "causal":
            raise ValueError(f"an SWT bank ({self.bank.name!r}) resynthesises from its causal "
                             f"analysis (its synthesis brings the latency (K-1)(2^J-1) in any "
                             f"case), got alignment={alignment!r}; use alignment='causal'")
        if fn is not None and not (callable(fn) or is_stream_like(fn)):
            raise TypeError(f"fn must be None, a callable or an object with process(), got "
                            f"{type(fn).__name__}")
        fn_latency = getattr(fn, "latency", 0) if is_stream_like(fn) else 0
        if fn_latency:
            raise ValueError(f"fn must return as many samples as it gets (latency 0), got "
                             f"latency {fn_latency!r}")
        self.fn: Any = fn  # a callable or a stream-like object (BandFunction)
        self.alignment, self.boundary, self.norm = alignment, boundary, flag(norm, "norm")
        self.channels = positive_int(channels, "channels")
        self._forward = AtrousStream(self.bank, self.levels, alignment, boundary, self.norm,
                                     self.channels)
        self._inverse = InverseAtrousStream(self.bank, self.levels, self.norm, self.channels)
        latency = self._forward.latency + self._inverse.latency
        super().__init__(self.channels, self.channels, latency, batch)

    def __repr__(self) -> str:
        return (f"ResynthesisStream({self.bank.name!r}, levels={self.levels}, "
                f"fn={fn_name(self.fn)}, alignment={self.alignment!r}, "
                f"boundary={self.boundary!r}, norm={self.norm}, channels={self.channels}, "
                f"latency={self.latency})")

    def config(self) -> dict[str, Any]:
        """Stream hook: the configuration as JSON (a saved state must come from the same one)."""
        return {"op": "ResynthesisStream", "wavelet": self.bank.name,
                "dec_lo": self.bank.dec_lo.tolist(), "levels": self.levels,
                "fn": fn_name(self.fn), "alignment": self.alignment,
                "boundary": self.boundary, "norm": self.norm, "channels": self.channels}

    def children(self) -> dict[str, Stream]:
        """Stream hook: the analysis (``forward``) and synthesis (``inverse``) streams."""
        return {"forward": self._forward, "inverse": self._inverse}

    def new_state(self, batch: int, dtype: np.dtype) -> ResynthesisState:
        """Stream hook: a fresh memory (and a reset of a stream-like ``fn``)."""
        reset = getattr(self.fn, "reset", None)
        if is_stream_like(self.fn) and callable(reset):
            reset()  # a fresh fn for a fresh stream
        return ResynthesisState()

    @single_consumer
    def reset(self) -> None:
        """Forget everything, here, in the children and in a stream-like ``fn``."""
        super().reset()
        reset = getattr(self.fn, "reset", None)
        if is_stream_like(self.fn) and callable(reset):
            reset()

    # -- the chain ----------------------------------------------------------------------------
    def _bands(self, coefficients: np.ndarray) -> np.ndarray:
        """``fn`` on ``(J+1, B, C, m)`` coefficients, seen in the chunks' layout."""
        if self.fn is None or coefficients.shape[-1] == 0:
            return coefficients
        assert self.layout is not None
        ndim = self.layout.ndim
        view = coefficients if ndim == 3 else coefficients[:, 0, 0] if ndim == 1 else \
            coefficients[:, 0]
        out = self.fn.process(view) if is_stream_like(self.fn) else self.fn(view)
        out = np.asarray(out)
        if out.shape != view.shape:
            raise ValueError(f"fn must return coefficients of the shape it gets, "
                             f"{view.shape}, got {out.shape}")
        return out.astype(coefficients.dtype, copy=False).reshape(coefficients.shape)

    def _synthesise(self, coefficients: np.ndarray) -> np.ndarray:
        """``(J+1, B, C, m)`` coefficients through ``fn`` and the inverse: ``(B, C, m')``."""
        levels, batch, channels, m = coefficients.shape
        c = np.ascontiguousarray(self._bands(coefficients).swapaxes(0, 1))
        return self._inverse.step(c.reshape(batch, levels * channels, m))

    def step(self, x: np.ndarray) -> np.ndarray:
        """Stream hook: ``(B, C, m)`` in, the ready ``(B, C, m')`` resynthesis out."""
        if x.shape[-1]:
            self.state.last = x[..., -1:].copy()
        return self._synthesise(self._forward.step(x))

    def finish(self) -> np.ndarray:
        """Stream hook: the last ``latency`` samples, ``(B, C, latency)`` (the boundary fed after
        the end)."""
        assert self.layout is not None
        batch, dtype = self.layout.batch, self.layout.dtype
        if self.state.last is None:  # nothing seen: nothing to return
            return np.zeros((batch, self.channels, 0), dtype)
        if self.bank.difference:  # the forward's own flush (its boundary), then the sum
            return self._synthesise(self._forward.finish())
        shape = (batch, self.channels, self._inverse.latency)
        tail = np.broadcast_to(self.state.last, shape) if self.boundary == "edge" else \
            np.zeros(shape, dtype)
        return self._synthesise(self._forward.step(np.ascontiguousarray(tail)))

    # -- state --------------------------------------------------------------------------------
    def export_state(self) -> dict[str, np.ndarray]:
        """Stream hook: the ``last`` sample ``(B, C, 1)`` and a stream-like ``fn``'s ``state_dict``
        (``fn.*``)."""
        state = {}
        if self.state.last is not None:
            state["last"] = self.state.last.copy()
        state_dict = getattr(self.fn, "state_dict", None)
        if is_stream_like(self.fn) and callable(state_dict):
            for key, value in state_dict().items():
                state[f"fn.{key}"] = np.asarray(value)
        return state

    def state_spec(self, layout: Layout) -> dict[str, ArraySpec | None]:
        """The ``last`` input sample ``(B, C, 1)``, and a stream-like ``fn``'s own state
        under ``fn.`` (checked by its ``load_state_dict``)."""
        spec: dict[str, ArraySpec | None] = {
            "last": ArraySpec((layout.batch, self.channels, 1), layout.dtype, required=False)}
        if is_stream_like(self.fn) and callable(getattr(self.fn, "load_state_dict", None)):
            spec["fn.*"] = FREE
        return spec

    def check_state(self, arrays: Mapping[str, Any], layout: Layout) -> None:
        """``last`` once samples were fed; the inverse's delay lines hold what the
        forward passed on."""
        fed = scalar(arrays, "forward.count")
        if ("last" in arrays) != (fed > 0):
            raise ValueError(f"state 'last' (the last input sample) must be there once samples "
                             f"were fed, and only then: 'forward.count' = {fed}")
        passed = max(0, fed - self._forward.latency)
        source = f", from 'forward.count' = {fed} samples fed"
        check_delay_lines(arrays, {f"inverse.{key}": delay for key, delay
                                   in self._inverse.delay_lines().items()}, passed, source)
        check_synthesis(arrays, self._inverse.synthesis_geometry("inverse."), passed, source)

    def import_state(self, arrays: Mapping[str, Any], batch: int, dtype: np.dtype) -> None:
        """Stream hook: load what ``export_state`` gave (checked), ``fn.*`` into a stream-like
        ``fn``."""
        if "last" in arrays:
            last = np.asarray(arrays["last"])
            if last.shape != (batch, self.channels, 1) or last.dtype != dtype:
                raise ValueError(f"state 'last' must be {dtype} of shape "
                                 f"{(batch, self.channels, 1)}, got {last.dtype} {last.shape}")
            self.state.last = last.copy()
        load = getattr(self.fn, "load_state_dict", None)
        if is_stream_like(self.fn) and callable(load):
            load(sub_state(arrays, "fn"))


class Resynthesis:
    """Live resynthesis as an operator: ``op(x)`` runs a fresh ``ResynthesisStream`` over
    the whole of ``x`` (one code path), ``op.stream()`` gives one to feed chunk by chunk.

    Every stream gets its own deep copy of a stream-like ``fn`` (streams share no state); a
    plain callable is shared. Options as ``ResynthesisStream``.

    Shape: ``(T,)``, ``(C, T)`` or ``(B, C, T)`` in, the same shape out.

    >>> import numpy as np
    >>> op = Resynthesis("db4", 3)  # fn=None: the identity
    >>> op.latency
    49
    >>> x = np.random.default_rng(0).standard_normal(500)
    >>> bool(np.allclose(op(x), x, rtol=0, atol=1e-12))
    True
    """

    def __init__(self, wavelet: WaveletLike, levels: int,
                 fn: BandFunction = None,
                 alignment: str = "causal", boundary: str = "zero", norm: bool = False,
                 channels: int = 1) -> None:
        self.wavelet, self.levels, self.fn = wavelet, levels, fn
        self.options: dict[str, Any] = {"alignment": alignment, "boundary": boundary, "norm": norm,
                        "channels": channels}
        self.latency = self.stream().latency  # checks the options

    def __repr__(self) -> str:
        name = filter_bank(self.wavelet).name
        options = "".join(f", {key}={value!r}" for key, value in self.options.items())
        return (f"Resynthesis({name!r}, levels={self.levels}, fn={fn_name(self.fn)}"
                f"{options}, latency={self.latency})")

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        stream = self.stream()
        y = stream.process(as_signal(x, "x"))
        return np.concatenate([y, stream.flush()], axis=-1)

    def stream(self, batch: int | None = None) -> ResynthesisStream:
        """A fresh ``ResynthesisStream`` (its own copy of a stream-like ``fn``); ``batch`` fixes the
        batch size of 3-D chunks."""
        fn = copy.deepcopy(self.fn) if is_stream_like(self.fn) else self.fn
        return ResynthesisStream(self.wavelet, self.levels, fn, batch=batch, **self.options)
