"""Measured receptive fields: what an operator really reads, to check the analytic one.

- numpy callables and wavedil objects: two random inputs that differ at one sample ``m``
  go through the operator; the outputs that change are exactly those that read ``m``
  (bitwise: an output that does not read ``m`` is computed from the same numbers). Random
  inputs (not an impulse on zeros) keep ReLUs from hiding support; biases cancel. This
  assumes one output per input sample (stride 1), as every wavedil operator has.
- torch modules: the support of the input gradient of one output sample (random
  projection over channels, random inputs, several trials united).
- ``effective_receptive_field``: the mean gradient magnitude over the extent (Luo et al.
  2016, "Understanding the effective receptive field"): how much of the theoretical extent
  really matters; ``wavedil.plot.plot_effective_receptive_field`` draws it.

Shape: inputs are ``shape`` (time last); by default ``(C_in, length)`` for a wavedil object
with ``in_channels``, ``(length,)`` for another numpy callable, ``(1, C_in, length)`` for a
torch module (``C_in`` of its first Conv1d). ``trials`` is at most ``MAX_TRIALS``, and an
input shape whose arrays pass the memory budget (``wavedil.engine.params``) is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..engine.checks import positive_int
from ..engine.params import check_budget, integer
from .field import is_torch_module

MAX_TRIALS = 1024  # a probe of 4096 trials took 8 s on a small TCN (20 s on a loaded machine)


@dataclass(frozen=True)
class Probe:
    """A measured extent: input ``support`` of output ``position`` (anchor = position * stride).

    ``lags`` are ``support - anchor``; ``left``/``right`` the past/lookahead in samples.
    """

    left: int
    right: int
    support: tuple[int, ...]
    position: int
    anchor: int
    method: str

    @property
    def size(self) -> int:
        return self.left + self.right + 1

    def __repr__(self) -> str:
        return (f"Probe(left={self.left}, right={self.right}, size={self.size}, "
                f"position={self.position}, anchor={self.anchor}, method={self.method!r}, "
                f"support={len(self.support)} samples, gaps={len(self.gaps)})")

    @property
    def lags(self) -> tuple[int, ...]:
        return tuple(s - self.anchor for s in self.support)

    @property
    def gaps(self) -> tuple[int, ...]:
        reached = set(self.lags)
        return tuple(k for k in range(-self.left, self.right + 1) if k not in reached)


def probe_receptive_field(op: Any, length: int | None = None, *,
                          shape: tuple[int, ...] | None = None, position: int | None = None,
                          stride: int | Fraction = 1, trials: int = 3, seed: int = 0,
                          output_axis: int = -1) -> Probe:
    """The measured receptive field of ``op`` at output ``position`` (default: the middle).

    ``length`` (or ``shape``) should leave room for the whole extent on both sides of the
    probed sample, or the support is cut at the signal's ends.
    """
    shape = _shape(op, length, shape)
    trials = integer(trials, "trials", 1, MAX_TRIALS)
    rng = np.random.default_rng(integer(seed, "seed", low=0))
    if is_torch_module(op):
        grads, position, _ = _torch_gradients(op, shape, position, trials, rng, output_axis)
        support = np.flatnonzero((grads != 0).any(axis=0))
        method = "gradient"
    else:
        position = shape[-1] // 2 if position is None else int(position)
        support = _numpy_support(op, shape, position, trials, rng, output_axis)
        method = "impulse"
    if support.size == 0:
        raise ValueError(f"output {position} reads no input sample: nothing to measure")
    anchor = math.floor(position * Fraction(stride))
    return Probe(anchor - int(support[0]), int(support[-1]) - anchor,
                 tuple(int(s) for s in support), position, anchor, method)


def _shape(op, length, shape):
    shape = _given_shape(op, length, shape)
    check_budget(8.0 * 16 * math.prod(shape), f"a probe of shape={shape} (length={shape[-1]}): "
                 f"inputs, outputs and the operator's work arrays, about 16 of that shape in "
                 f"float64",
                 "probe a shorter input (a few receptive fields long)")
    return shape


def _given_shape(op, length, shape):
    if shape is not None:
        shape = tuple(integer(s, "shape") for s in shape)
        if not shape:
            raise ValueError(f"shape must be a non-empty tuple of sizes >= 1, got {shape}")
        return shape
    if length is None:
        raise ValueError("give length= (samples) or shape= (the whole input shape)")
    length = positive_int(length, "length")
    if is_torch_module(op):
        import torch

        for m in op.modules():
            if isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
                return (1, m.in_channels, length)
        raise ValueError(f"{type(op).__name__} has no Conv1d: give shape= for its input")
    channels = getattr(op, "in_channels", None)
    return (length,) if channels is None else (int(channels), length)


def _outputs(op, x, output_axis):
    out = op(x)
    parts = out if isinstance(out, (list, tuple)) else [out]
    return [np.moveaxis(np.asarray(p), output_axis, -1) for p in parts]


def _numpy_support(op, shape, m, trials, rng, output_axis) -> np.ndarray:
    if not 0 <= m < shape[-1]:
        raise ValueError(f"position must be in [0, {shape[-1]}), got {m}")
    changed = None
    for _ in range(trials):
        base = rng.standard_normal(shape)
        moved = base.copy()
        moved[..., m] += rng.uniform(0.5, 1.5, shape[:-1]) * rng.choice([-1, 1], shape[:-1])
        for a, b in zip(_outputs(op, base, output_axis), _outputs(op, moved, output_axis)):
            diff = (a != b).reshape(-1, a.shape[-1]).any(axis=0)
            changed = diff if changed is None else changed | diff
    # output n reads input m  <=>  lag m - n is reached; as input positions of output m:
    lags = m - np.flatnonzero(changed)  # type: ignore[arg-type]  # trials >= 1 set it
    return np.sort(m + lags)


def _torch_gradients(model, shape, position, trials, rng, output_axis):
    """``(|grad| per trial (trials, T_in), position, output length)`` of one output sample."""
    import torch

    from .torch_trace import other_args

    extra = other_args(model, 1)  # e.g. wav2vec2's ``length``: its default, else None
    was_training = model.training
    model.eval()
    params = next(model.parameters(), None)
    dtype = params.dtype if params is not None else torch.float32
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    grads = []
    try:
        for _ in range(trials):
            x = torch.randn(shape, generator=gen, dtype=dtype, requires_grad=True)
            y = model(x, **extra)
            if isinstance(y, (tuple, list)):
                y = y[0]
            y = y.movedim(output_axis, -1)
            if position is None:
                position = y.shape[-1] // 2
            if not 0 <= position < y.shape[-1]:
                raise ValueError(f"position must be in [0, {y.shape[-1]}), got {position}")
            picked = y[..., position]
            weights = torch.randn(picked.shape, generator=gen, dtype=picked.dtype)
            (grad,) = torch.autograd.grad((picked * weights).sum(), x)
            grads.append(grad.abs().reshape(-1, shape[-1]).sum(0).double().numpy())
    finally:
        model.train(was_training)
    return np.array(grads), int(position), int(y.shape[-1])


@dataclass(frozen=True)
class EffectiveReceptiveField:
    """Mean input-gradient magnitude of one output sample, by lag (normalised to max 1)."""

    lags: np.ndarray
    profile: np.ndarray
    position: int
    anchor: int

    def __repr__(self) -> str:
        lags = f"{self.lags[0]}..{self.lags[-1]}" if len(self.lags) else "none"
        return (f"EffectiveReceptiveField(lags={lags} ({len(self.lags)}), "
                f"position={self.position}, anchor={self.anchor})")

    def mass_interval(self, mass: float = 0.95) -> tuple[int, int]:
        """The narrowest lag interval ``(first, last)`` holding ``mass`` of the profile."""
        if not 0 < mass <= 1:
            raise ValueError(f"mass must be in (0, 1], got {mass}")
        p = self.profile / self.profile.sum()
        cum = np.concatenate([[0.0], np.cumsum(p)])
        best, j = (0, len(p) - 1), 0
        for i in range(len(p)):
            j = max(j, i)
            while j < len(p) and cum[j + 1] - cum[i] < mass - 1e-12:
                j += 1
            if j == len(p):
                break
            if j - i < best[1] - best[0]:
                best = (i, j)
        return int(self.lags[best[0]]), int(self.lags[best[1]])


def effective_receptive_field(op: Any, length: int | None = None, *,
                              shape: tuple[int, ...] | None = None,
                              position: int | None = None, stride: int | Fraction = 1,
                              trials: int = 16, seed: int = 0,
                              output_axis: int = -1) -> EffectiveReceptiveField:
    """The gradient-magnitude profile (Luo et al. 2016) of a torch model's output sample."""
    if not is_torch_module(op):
        raise TypeError(f"effective_receptive_field needs a torch.nn.Module, got "
                        f"{type(op).__name__}")
    shape = _shape(op, length, shape)
    rng = np.random.default_rng(integer(seed, "seed", low=0))
    trials = integer(trials, "trials", 1, MAX_TRIALS)
    grads, position, _ = _torch_gradients(op, shape, position, trials, rng, output_axis)
    mean = grads.mean(axis=0)
    support = np.flatnonzero(mean)
    if support.size == 0:
        raise ValueError(f"output {position} has a zero gradient everywhere")
    anchor = math.floor(position * Fraction(stride))
    lo, hi = support[0], support[-1] + 1
    return EffectiveReceptiveField(np.arange(lo, hi) - anchor, mean[lo:hi] / mean.max(),
                                   position, anchor)
