"""Each wavedil operator's plan on one time block: its context, boundary and call.

``plan_for(op, T)`` picks the kind (``wavedil.dask.blocks`` says what a plan is):

- any operator with a spec (conv layers, TCN / WaveNet / Stack, ``AtrousTransform``,
  torch modules): context ``wavedil.receptive.field.halo(op)`` and the operator's own
  boundary at the ends of the signal (zeros for a conv, the transform's boundary per
  level; a mirror reads up to ``left`` samples into the signal, which is why every block
  holds at least ``max(left, right)`` samples);
- ``Resynthesis`` with a memoryless ``fn``: the analysis's past and the stream's latency;
- the streaming ``Denoiser``: a fresh stream per block, warmed up on its threshold grid
  (``DenoiserBlocks``);
- the functions ``mra`` and ``modwt``, whose in-memory call wraps around (periodic) or
  extends the whole signal once before a periodic transform (SWT banks): the signal is
  padded in that mode first, then every window is whole;
- ``denoise``: ``wavedil.dask.offline`` (global statistics first).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..engine.stream import Stream
from ..models.base import Model
from ..receptive.field import halo as receptive_halo
from ..receptive.field import is_torch_module
from ..wavelets import (
    Denoiser,
    Resynthesis,
    atrous,
    denoise,
    filter_bank,
    iatrous,
    max_level,
    modwt,
    mra,
)
from ..wavelets.modwt import imodwt, modwt_bank, modwtmra
from ..wavelets.resynthesis import is_stream_like
from ..wavelets.transform import atrous_spec, reach
from .blocks import EXTENSIONS, Blocks, crop
from .offline import DenoiseBlocks


class OperatorBlocks(Blocks):
    """Any operator whose output at n reads inputs ``n - left .. n + right`` (its spec)."""

    def __init__(self, op: Callable[..., Any], left: int, right: int, length: int) -> None:
        self.op, self.left, self.right, self.length = op, left, right, length

    def whole(self, x: np.ndarray) -> np.ndarray:
        if isinstance(self.op, Model):  # one thread: Dask runs the blocks side by side
            return np.asarray(self.op(x, workers=1))
        if is_torch_module(self.op):
            import torch

            with torch.no_grad():
                return self.op(torch.as_tensor(x)).numpy()
        return np.asarray(self.op(x))

    def run(self, window: np.ndarray, lo: int, hi: int, a: int, b: int, extra: Any) -> np.ndarray:
        return crop(self.whole(window), lo, a, b)


class DenoiserBlocks(Blocks):
    """The streaming ``Denoiser``: a fresh stream per block, warmed up on its threshold grid.

    Its thresholds change at the coefficient indices ``u = k * hop`` (k >= 1), each from the
    ``window`` coefficients before u, and a coefficient reads ``A`` samples of the past
    (the analysis); output n reads coefficients ``n .. n + latency``. So the output on
    ``[a, b)`` depends on the inputs from ``s = u_a - window - A`` on, with
    ``u_a = floor(a / hop) * hop``: a fresh stream started at ``s`` rounded down to the grid
    (0 if negative) has, from ``u_a`` on, the very coefficients and thresholds of the
    stream over the whole signal, so its outputs on ``[a, b)`` are those outputs (same
    arithmetic: equal to float rounding). Context: ``left = hop - 1 +
    ceil((window + A) / hop) * hop`` (``A`` alone with fixed thresholds),
    ``right = latency``.
    """

    def __init__(self, op: Denoiser, length: int) -> None:
        stream = op.stream()
        self.op, self.length = op, length
        self.hop, self.window = stream.hop, stream.window
        past, _ = receptive_halo(atrous_spec(stream.bank, stream.levels, stream.alignment))
        numeric = isinstance(stream.threshold, (int, float)) and \
            not isinstance(stream.threshold, bool)
        self.fixed = stream.sigma is not None and (numeric or stream.threshold == "universal")
        self.warm = past if self.fixed else -(-(self.window + past) // self.hop) * self.hop
        self.left = self.warm if self.fixed else self.hop - 1 + self.warm
        self.right = stream.latency

    def start(self, a: int) -> int:
        """Where the fresh stream for a block starting at ``a`` starts."""
        if self.fixed:
            return max(0, a - self.warm)
        return max(0, (a // self.hop) * self.hop - self.warm)

    def whole(self, x: np.ndarray) -> np.ndarray:
        return self.op(x)

    def run(self, window: np.ndarray, lo: int, hi: int, a: int, b: int, extra: Any) -> np.ndarray:
        start = self.start(a)
        if start < lo:
            raise RuntimeError(f"the denoiser's warm-up needs the block from sample {start}, "
                               f"the window starts at {lo}")
        stream = self.op.stream()
        y = stream.process(window[..., start - lo :])
        if hi == self.length:  # the block ends the signal
            y = np.concatenate([y, stream.flush()], axis=-1)
        return crop(y, start, a, b)


class FunctionBlocks(Blocks):
    """``mra`` or ``modwt`` with the options that fix their output (levels resolved)."""

    def __init__(self, fn: Callable[..., np.ndarray], options: dict[str, Any], left: int,
                 right: int, extend: str | None, block_options: dict[str, Any],
                 length: int) -> None:
        self.fn, self.options, self.block_options = fn, options, block_options
        self.length = length
        self.left, self.right, self.extend = left, right, extend

    def whole(self, x: np.ndarray) -> np.ndarray:
        return self.fn(x, **self.options)

    def run(self, window: np.ndarray, lo: int, hi: int, a: int, b: int, extra: Any) -> np.ndarray:
        return crop(self.fn(window, **{**self.options, **self.block_options}), lo, a, b)

    def describe(self) -> str:
        return (f"FunctionBlocks({self.fn.__name__}, {self.options}, left={self.left}, "
                f"right={self.right}, extend={self.extend!r})")


def _mra_plan(options: dict[str, Any], length: int) -> Blocks:
    options = {"alignment": "causal", "boundary": "periodic", "norm": False,
               "order": "fine-to-coarse", **options}
    if "wavelet" not in options:
        raise TypeError("apply(wavedil.mra, x, ...) needs wavelet=, as mra itself does")
    bank = filter_bank(options["wavelet"])
    levels = options.get("levels")
    options["levels"] = max_level(length, bank) if levels is None else int(levels)
    boundary = options["boundary"]
    if boundary not in EXTENSIONS:
        raise ValueError(f"boundary must be one of {EXTENSIONS}, got {boundary!r}")
    if bank.difference:  # the transform itself, a boundary per level
        left, right = receptive_halo(atrous_spec(bank, options["levels"], options["alignment"]))
        extend = "periodic" if boundary == "periodic" else None
        return FunctionBlocks(mra, options, left, right, extend, {},
                              length)
    margin = reach(bank, options["levels"])  # extended once, then the periodic transform
    return FunctionBlocks(mra, options, margin, margin, boundary,
                          {"boundary": "periodic"}, length)


def _modwt_plan(options: dict[str, Any], length: int) -> Blocks:
    options = {"wavelet": "sym4", "boundary": "periodic", **options}
    if options["boundary"] != "periodic":
        raise ValueError(f"apply runs modwt with boundary='periodic' only (its "
                         f"{options['boundary']!r} boundary doubles the length), got "
                         f"{options['boundary']!r}")
    levels = options.get("levels")
    options["levels"] = max(length.bit_length() - 1, 1) if levels is None else int(levels)
    bank = modwt_bank(options["wavelet"])
    past, _ = receptive_halo(atrous_spec(bank, options["levels"], "causal"))
    return FunctionBlocks(modwt, options, past, 0, "periodic", {},
                          length)


FUNCTIONS: dict[Any, Callable[[dict[str, Any], int], Blocks]] = {
    mra: _mra_plan, modwt: _modwt_plan, denoise: DenoiseBlocks}
NOT_OPERATORS = {atrous: "use wavedil.AtrousTransform(wavelet, levels, ...) or wavedil.mra",
                 iatrous: "it takes coefficients, not a signal",
                 imodwt: "it takes coefficients, not a signal",
                 modwtmra: "it takes coefficients, not a signal"}


def plan_for(op: Any, length: int, halo: tuple[int, int] | None = None,
             options: Mapping[str, Any] | None = None) -> Blocks:
    """The plan of ``op`` on a signal of ``length`` samples (``options`` go to a function:
    ``denoise``, ``mra``, ``modwt``; ``halo`` overrides the context of any other operator).
    """
    options = dict(options or {})
    if isinstance(op, functools.partial) and not op.args and _hashable(op.func) and \
            (op.func in FUNCTIONS or op.func in NOT_OPERATORS):
        op, options = op.func, {**op.keywords, **options}
    if _hashable(op) and op in FUNCTIONS:
        if halo is not None:
            raise ValueError(f"{op.__name__}: its context follows from its options; do not "
                             f"pass halo (got {halo!r})")
        if "axis" in options:
            raise ValueError("give axis= to wavedil.dask.apply, not to the function")
        return FUNCTIONS[op](options, int(length))
    if _hashable(op) and op in NOT_OPERATORS:
        raise TypeError(f"apply cannot run {op.__name__}: {NOT_OPERATORS[op]}")
    if options:
        raise TypeError(f"options ({', '.join(options)}) are for the functions "
                        f"denoise, mra and modwt; a {type(op).__name__} takes its options "
                        f"when it is built")
    if isinstance(op, Stream):
        raise TypeError(f"pass the operator, not a stream ({type(op).__name__}): a stream "
                        f"carries the state of the samples it has seen, which a block cannot "
                        f"share; e.g. apply(Denoiser(...), x) rather than apply(op.stream(), x)")
    if isinstance(op, Denoiser):
        if halo is not None:
            raise ValueError(f"a Denoiser's context follows from its window and hop; do not "
                             f"pass halo (got {halo!r})")
        return DenoiserBlocks(op, int(length))
    if isinstance(op, Resynthesis) and halo is None:
        halo = _resynthesis_halo(op)
    if not callable(op):
        raise TypeError(f"op must be a wavedil operator or a callable, got {type(op).__name__}")
    if halo is None:
        halo = receptive_halo(op)
    left, right = (int(v) for v in halo)
    if left < 0 or right < 0:
        raise ValueError(f"halo must be two integers >= 0, got {halo!r}")
    return OperatorBlocks(op, left, right, int(length))


def _hashable(op: Any) -> bool:
    try:
        hash(op)
    except TypeError:
        return False
    return True


def _resynthesis_halo(op: Resynthesis) -> tuple[int, int]:
    """The analysis's past, and the stream's latency ahead (``fn`` memoryless)."""
    if is_stream_like(op.fn):
        raise ValueError(f"a Resynthesis whose fn keeps a state ({type(op.fn).__name__} has "
                         f"process()) depends on the whole past, which blocks cannot see; "
                         f"apply takes a memoryless fn (a plain function of each sample)")
    stream = op.stream()
    past, _ = receptive_halo(atrous_spec(stream.bank, stream.levels, stream.alignment))
    return past, stream.latency
