"""One small factory per streamable object the package ships, for the contract check.

Each ``Entry`` builds an operator with the numpy streaming API (``op(x)``,
``op.stream(batch=)`` and its ``process``/``flush``/``reset``/``state_dict``/
``load_state_dict``/``latency``). Three kinds need an adapter, written here on their
public API only:

- ``InverseAtrousOp``: ``InverseAtrousStream`` is a stream without an operator; its
  offline twin is ``wavedil.iatrous`` of the stacked coefficients ``(levels + 1, ..., T)``
  followed by ``latency`` zeros (periodic: the synthesis reads only ahead, so nothing
  wraps into the first T samples), cropped to T.
- ``CondOp``: a conditioned WaveNet's chunks come with conditioning. The adapter's chunks
  carry the local conditioning as extra channels after the audio (``(C_in + C_lc, m)``), and
  a fixed global conditioning vector per batch row; so a chunk of the wrong channel count
  is a conditioning of the wrong width, which the stream must refuse as well.
- ``TorchOp``: a torch module's offline call and its ``module.stream(batch)`` (the numpy
  streams' protocol, torch tensors out), with numpy in and out; built in float32.
- ``ComplexAsRealOp``: an operator with complex output (the CWT) seen through its real
  and imaginary parts stacked on the first axis, in the input's real dtype.
- ``DecimatedCWTOp``: the decimated CWT (``wavedil.cwt(..., decimate=True)`` offline,
  ``CWT.stream(decimate=True)``, a list of per-octave chunks) seen densely: octave j's
  columns at the multiples of 2^j, zeros between (placed by the stream's ``emitted``),
  then as ``ComplexAsRealOp``.

``Entry.gaps`` names the checks a class fails today, with the reason: the contract test
runs them as ``xfail(strict=True)`` so they turn into failures once fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

import wavedil
import wavedil.nn as wnn
from wavedil.models.nam import NAMLinear
from wavedil.wavelets.transform import AtrousResult

SEED = 20240611


def _rng(offset: int):
    return np.random.default_rng(SEED + offset)


# -- adapters ----------------------------------------------------------------------------------
class InverseAtrousOp:
    """``iatrous`` of stacked coefficients offline, ``InverseAtrousStream`` as its stream."""

    def __init__(self, wavelet, levels, norm=False, channels=1):
        self.wavelet, self.levels, self.norm, self.channels = wavelet, levels, norm, channels
        self.bank = wavedil.filter_bank(wavelet)

    def __call__(self, c):
        c = np.asarray(c)
        length, latency = c.shape[-1], self.stream().latency
        c = np.concatenate([c, np.zeros(c.shape[:-1] + (latency,), c.dtype)], axis=-1)
        return wavedil.iatrous(AtrousResult(c[:-1], c[-1], self.bank, "causal", "periodic",
                                            self.norm, -1))[..., :length]

    def stream(self, batch=None):
        return wavedil.InverseAtrousStream(self.wavelet, self.levels, self.norm,
                                           channels=self.channels, batch=batch)

    def coefficients(self, shape, dtype, seed):
        """The forward transform of a random signal of ``shape``: ``(levels + 1, *shape)``."""
        x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
        return wavedil.AtrousTransform(self.wavelet, self.levels, norm=self.norm,
                                       channels=self.channels)(x)


class CondOp:
    """A conditioned operator with local conditioning packed as channels after the audio."""

    def __init__(self, op, in_channels, global_channels, local_channels, seed=0):
        self.op, self.in_channels, self.local_channels = op, in_channels, local_channels
        self.global_rows = np.random.default_rng(seed).standard_normal((8, global_channels))

    def cond(self, x):
        audio, local = x[..., : self.in_channels, :], x[..., self.in_channels :, :]
        g = self.global_rows[: x.shape[0]] if x.ndim >= 3 else self.global_rows[0]
        return audio, {"global_cond": g.astype(x.dtype), "local_cond": local}

    def __call__(self, x):
        audio, cond = self.cond(np.asarray(x))
        return self.op(audio, **cond)

    def stream(self, batch=None):
        return CondStream(self, self.op.stream(batch=batch))


class CondStream:
    def __init__(self, op: CondOp, stream):
        self.op, self.inner = op, stream

    latency = property(lambda self: self.inner.latency)

    def process(self, chunk):
        audio, cond = self.op.cond(np.asarray(chunk))
        return self.inner.process(audio, **cond)

    def flush(self):
        return self.inner.flush()

    def reset(self):
        self.inner.reset()

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)


class ThreadedOp:
    """A numpy TCN whose streams run their short chunks on two threads (``threads=2``)."""

    def __init__(self, model):
        self.model = model

    def __call__(self, x):
        return self.model(x)

    def stream(self, batch=None):
        return self.model.stream(batch, threads=2)


class TorchOp:
    """A ``wavedil.nn`` streaming module with the numpy operator API (numpy in and out)."""

    def __init__(self, module):
        self.module = module.eval()

    def __call__(self, x, **cond):
        with torch.no_grad():
            return _numpy(self.module(_tensor(x), **_tensors(cond)))

    def stream(self, batch=None):
        return TorchStreamAdapter(self.module.stream(batch))


class TorchStreamAdapter:
    """The package's torch stream (``module.stream(batch)``), numpy in and out."""

    def __init__(self, stream):
        self.stream = stream
        self.latency = stream.latency

    def process(self, chunk, **cond):
        return _numpy(self.stream.process(chunk, **cond))

    def flush(self):
        return _numpy(self.stream.flush())

    def reset(self):
        self.stream.reset()

    def state_dict(self):
        return self.stream.state_dict()

    def load_state_dict(self, state):
        self.stream.load_state_dict(state)


class ComplexAsRealOp:
    """A complex-valued operator and its stream, outputs as ``[real; imag]`` (first axis)."""

    def __init__(self, op):
        self.op = op

    def __call__(self, x):
        return _as_real(self.op(x))

    def stream(self, batch=None):
        return ComplexAsRealStream(self.op.stream(batch=batch))


class ComplexAsRealStream:
    def __init__(self, stream):
        self.stream = stream
        self.latency = stream.latency

    def process(self, chunk):
        return _as_real(self.stream.process(chunk))

    def flush(self):
        return _as_real(self.stream.flush())

    def reset(self):
        self.stream.reset()

    def state_dict(self):
        return self.stream.state_dict()

    def load_state_dict(self, state):
        self.stream.load_state_dict(state)


class DecimatedCWTOp:
    """The decimated CWT of a ``wavedil.CWT``'s options, octaves spread on every sample."""

    def __init__(self, op):
        self.op = op

    def __call__(self, x):
        plan = self.op.plan
        result = wavedil.cwt(x, plan.wavelet, plan.octaves, plan.voices, plan.scale0,
                             plan.a0, plan.interpolator, plan.alignment, self.op.boundary,
                             decimate=True)
        return _as_real(_dense([result.octave(j) for j in range(plan.octaves)], 0,
                               np.shape(x)[-1]))

    def stream(self, batch=None):
        return DecimatedCWTStreamAdapter(self.op.stream(batch=batch, decimate=True))


class DecimatedCWTStreamAdapter(ComplexAsRealStream):
    def process(self, chunk):
        start = self.stream.emitted
        octaves = self.stream.process(chunk)
        return _as_real(_dense(octaves, start, self.stream.emitted))

    def flush(self):
        start = self.stream.emitted
        octaves = self.stream.flush()
        return _as_real(_dense(octaves, start, self.stream.emitted))


def _dense(octaves, start, stop):
    """Octave j's columns (at the multiples of 2^j from ``start``) on samples ``start ..
    stop - 1``, zeros between: ``(bands, ..., stop - start)``."""
    out = []
    for j, block in enumerate(octaves):
        dense = np.zeros(block.shape[:-1] + (stop - start,), block.dtype)
        first = -(-start // 2**j) * 2**j
        dense[..., first - start :: 2**j] = block
        out.append(dense)
    return np.concatenate(out)


def _as_real(y):
    assert np.iscomplexobj(y), y.dtype
    return np.concatenate([y.real, y.imag], axis=0)


def _tensor(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def _tensors(cond):
    return {key: None if value is None else _tensor(value) for key, value in cond.items()}


def _numpy(t):
    return t.detach().cpu().numpy().copy()


def _torch(seed, make):
    torch.manual_seed(seed)
    return make()


# -- the registry --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """A factory and what the contract check needs to know about its operator.

    ``channels``: the channels of an input chunk (the axis before time); ``layouts``: of
    ``"1d"`` ``(T,)``, ``"2d"`` ``(C, T)``, ``"3d"`` ``(3, C, T)`` with ``stream()``, and
    ``"batch"`` ``(2, C, T)`` with ``stream(batch=2)``; ``make_input(shape, dtype, seed)``
    (default: standard normal noise); ``covers``: the package classes an adapter exercises;
    ``gaps``: check name -> why it fails today (run as strict xfails); ``longest`` and
    ``examples``: the longest signal and the number of examples the hypothesis test draws.
    """

    name: str
    make: Callable[[], Any]
    channels: int
    layouts: tuple = ("1d", "2d", "3d", "batch")
    dtypes: tuple = (np.float64, np.float32)
    make_input: Callable | None = None
    covers: tuple = ()
    gaps: dict = field(default_factory=dict)
    longest: int = 300  # the longest signal drawn (the torch modules are slow per chunk)
    examples: int = 20  # hypothesis examples


NUMPY_GAPS: dict = {}  # none left; add (check name -> reason) pairs for a known gap
# float32 modules, 3-D chunks (their offline forward takes (B, C, T)); short signals, few
# examples (~10 ms per call)
TORCH = dict(layouts=("batch",), dtypes=(np.float32,), longest=48, examples=8)


def _conv(offset, shape, **options):
    def make():  # the same weights at every call (and in another process)
        rng = _rng(offset)
        return wavedil.DilatedConv1d(rng.standard_normal(shape), rng.standard_normal(shape[0]),
                                     **options)
    return make


def _inverse(*args, gaps=NUMPY_GAPS, **options):
    op = InverseAtrousOp(*args, **options)
    return Entry(f"InverseAtrousStream-{args[0]}-{options.get('channels', 1)}ch",
                 lambda: InverseAtrousOp(*args, **options), options.get("channels", 1),
                 make_input=op.coefficients, covers=(wavedil.InverseAtrousStream,), gaps=gaps)


def band_gains(c):
    """A memoryless band processor: a soft threshold, then a gain per band."""
    gains = np.linspace(1.5, 0.5, c.shape[0]).reshape((-1,) + (1,) * (c.ndim - 1))
    return np.sign(c) * np.maximum(np.abs(c) - 0.3, 0) * gains


class RunningPeak:
    """A stateful band processor: every coefficient divided by 1 + the running peak of its
    band and channel (``process``, ``reset``, ``state_dict``, ``load_state_dict``)."""

    def __init__(self):
        self.peak = None

    def process(self, c):
        a = np.abs(c)
        if self.peak is not None:
            a = np.concatenate([self.peak[..., None], a], axis=-1)
        peaks = np.maximum.accumulate(a, axis=-1)[..., -c.shape[-1]:]
        self.peak = peaks[..., -1].copy()
        return c / (1 + peaks)

    def reset(self):
        self.peak = None

    def state_dict(self):
        return {} if self.peak is None else {"peak": self.peak.copy()}

    def load_state_dict(self, state):
        self.peak = np.array(state["peak"]) if "peak" in state else None


def _resynthesis(name, *args, channels=1, **options):
    return Entry(f"Resynthesis-{name}", lambda: wavedil.Resynthesis(
        *args, channels=channels, **options), channels, gaps=NUMPY_GAPS)


def _wavenet_cond(make, channels=1, local=3):
    return CondOp(make(), channels, 2, local, seed=5)


NUMPY_WAVENET = dict(residual_channels=6, gate_channels=8, skip_channels=5, kernel_size=3,
                     dilations=[1, 4])
# per dilated conv (blocks.0.conv1, blocks.0.conv2, ...): spans 3, 3, 6, 6, 3, 3
TCN_EXTENTS = [(1, 2), (0, 3), (3, 3), (6, 0), (2, 1), (1, 2)]
NN_STACK = [{"channels": 4, "kernel_size": 3, "dilation": 2},
            {"channels": 4, "kernel_size": 2, "dilation": 4, "groups": 2, "residual": True},
            {"channels": 1, "activation": None}]

NAM_ARRAYS = [
    {"channels": 3, "dilations": [1, 3], "kernel_sizes": [3, 2], "bottleneck": 2, "head1x1": 2,
     "head_size": 2, "activations": [{"primary": "Tanh", "gating": "gated", "secondary":
                                      "Sigmoid"}, {"type": "LeakyReLU", "negative_slope": 0.2}]},
    {"channels": 2, "dilations": [2, 1], "layer1x1": False, "head_kernel_size": 2,
     "activations": {"primary": "ReLU", "gating": "blended", "secondary": "Sigmoid"}}]
NAM_HEAD = {"channels": 2, "activation": "Softsign", "out_channels": 1, "kernel_sizes": [2, 1]}

ENTRIES = {e.name: e for e in [
    # the engine: every alignment, boundary and path of DilatedConv1d
    Entry("DilatedConv1d-causal", _conv(1, (3, 2, 3), dilation=2), 2, gaps=NUMPY_GAPS),
    Entry("DilatedConv1d-centered", _conv(2, (1, 1, 4), dilation=3, alignment="centered"), 1,
          gaps=NUMPY_GAPS),
    Entry("DilatedConv1d-left-right", _conv(3, (2, 1, 3), dilation=5, alignment=(4, 6)), 1,
          gaps=NUMPY_GAPS),
    Entry("DilatedConv1d-edge", _conv(4, (2, 2, 3), dilation=2, alignment="centered",
                                      boundary="edge"), 2, gaps=NUMPY_GAPS),
    Entry("DilatedConv1d-depthwise", _conv(5, (3, 1, 3), dilation=4, groups=3,
                                           alignment=(3, 5)), 3, gaps=NUMPY_GAPS),
    Entry("DilatedConv1d-groups", _conv(6, (4, 2, 2), dilation=3, groups=2, alignment=(1, 2)),
          4, gaps=NUMPY_GAPS),
    # the numpy models
    Entry("TCN", lambda: wavedil.TCN(2, [4, 3], kernel_size=3, dilations=[1, 4],
                                     out_channels=1, seed=1), 2, gaps=NUMPY_GAPS),
    Entry("TCN-2-threads", lambda: ThreadedOp(wavedil.TCN(
        2, [5, 3], kernel_size=3, dilations=[1, 4], out_channels=3, seed=1)), 2,
          gaps=NUMPY_GAPS),
    Entry("WaveNet", lambda: wavedil.WaveNet(1, 6, 8, 5, kernel_size=2, dilations=[1, 2, 4],
                                             seed=2), 1, gaps=NUMPY_GAPS),
    Entry("WaveNet-cond", lambda: _wavenet_cond(lambda: wavedil.WaveNet(
        1, **NUMPY_WAVENET, global_cond_channels=2, local_cond_channels=3, seed=4)), 1 + 3,
        covers=(wavedil.WaveNet,), gaps=NUMPY_GAPS),
    Entry("Stack", lambda: wavedil.Stack(NN_STACK, in_channels=1, seed=3), 1, gaps=NUMPY_GAPS),
    # lookahead: centered models, per-conv extents (latency held back, delay lines, flush)
    Entry("TCN-centered", lambda: wavedil.TCN(2, [4, 3], kernel_size=3, dilations=[1, 4],
                                              out_channels=1, alignment="centered", seed=1),
          2, gaps=NUMPY_GAPS),
    Entry("TCN-lookahead-options", lambda: wavedil.TCN(
        1, [4, 3, 3], kernel_size=4, dilations=[1, 2, 1], alignment=TCN_EXTENTS,
        activation="gelu", norm="layer_norm", gate=True, skip_connections=True,
        output_activation="tanh", seed=7), 1, gaps=NUMPY_GAPS),
    Entry("WaveNet-cond-centered", lambda: _wavenet_cond(lambda: wavedil.WaveNet(
        1, **NUMPY_WAVENET, global_cond_channels=2, local_cond_channels=3,
        alignment="centered", seed=4)), 1 + 3, gaps=NUMPY_GAPS),
    Entry("Stack-lookahead", lambda: wavedil.Stack(NN_STACK, in_channels=1,
                                                   alignment=[(2, 2), (1, 3), "causal"],
                                                   seed=3), 1, gaps=NUMPY_GAPS),
    # Neural Amp Modeler models (wavedil.models.nam): every kind of layer, from silence
    Entry("NAM", lambda: wavedil.NAM(NAM_ARRAYS, head=NAM_HEAD, head_scale=0.5, seed=11), 1,
          gaps=NUMPY_GAPS),
    Entry("NAMLinear", lambda: NAMLinear(9, bias=True, seed=12), 1, gaps=NUMPY_GAPS),
    # wavelets: the forward transform (banks, alignments, boundaries), its inverse, denoisers
    Entry("AtrousTransform-starlet", lambda: wavedil.AtrousTransform("starlet", 3), 1,
          gaps=NUMPY_GAPS),
    Entry("AtrousTransform-db4-centered-edge", lambda: wavedil.AtrousTransform(
        "db4", 3, "centered", "edge", norm=True, channels=2), 2, gaps=NUMPY_GAPS),
    Entry("AtrousTransform-sym4-pywt", lambda: wavedil.AtrousTransform("sym4", 2, "pywt"), 1,
          gaps=NUMPY_GAPS),
    Entry("AtrousTransform-haar-edge", lambda: wavedil.AtrousTransform(
        "haar", 4, boundary="edge"), 1, gaps=NUMPY_GAPS),
    _inverse("starlet", 3),
    _inverse("linear", 2, norm=True, channels=2),
    _inverse("db2", 3),
    _inverse("sym4", 2, norm=True, channels=2),
    # live resynthesis: analysis, a band function (memoryless or a stream), synthesis
    _resynthesis("db4-gains", "db4", 3, band_gains),
    _resynthesis("haar-running-peak-edge", "haar", 4, RunningPeak(), boundary="edge",
                 channels=2),
    _resynthesis("starlet-centered", "starlet", 3, np.tanh, alignment="centered"),
    _resynthesis("coif1-norm", "coif1", 2, norm=True),
    Entry("Denoiser-starlet-running", lambda: wavedil.Denoiser(
        "starlet", 3, window=64, hop=16), 1, gaps=NUMPY_GAPS),
    Entry("Denoiser-starlet-centered-edge", lambda: wavedil.Denoiser(
        "starlet", 3, alignment="centered", boundary="edge", threshold="sure", window=48,
        hop=8, channels=2), 2, gaps=NUMPY_GAPS),
    Entry("Denoiser-db4-fixed", lambda: wavedil.Denoiser(
        "db4", 3, sigma=0.5, threshold=3.0), 1, gaps=NUMPY_GAPS),
    Entry("Denoiser-default-running", lambda: wavedil.Denoiser(window=64, hop=16), 1,
          gaps=NUMPY_GAPS),
    # the continuous wavelet transform: direct and à trous octaves, Morlet and Morse
    Entry("CWT-morlet-centered", lambda: ComplexAsRealOp(wavedil.CWT(
        octaves=3, voices=2, scale0=2.0, a0=4.0, interpolator=4)), 1,
        covers=(wavedil.CWT, wavedil.CWTStream), gaps=NUMPY_GAPS),
    Entry("CWT-morse-causal-edge", lambda: ComplexAsRealOp(wavedil.CWT(
        "morse", octaves=2, voices=3, scale0=1.0, a0=1.0, interpolator=2, alignment="causal",
        boundary="edge", channels=2)), 2, covers=(wavedil.CWT, wavedil.CWTStream),
        gaps=NUMPY_GAPS),
    Entry("CWT-decimated-morlet-centered", lambda: DecimatedCWTOp(wavedil.CWT(
        octaves=3, voices=2, scale0=2.0, a0=4.0, interpolator=4)), 1,
        covers=(wavedil.CWT, wavedil.DecimatedCWTStream), gaps=NUMPY_GAPS),
    Entry("CWT-decimated-morse-causal-edge", lambda: DecimatedCWTOp(wavedil.CWT(
        "morse", octaves=3, voices=2, scale0=1.0, a0=1.0, interpolator=2, alignment="causal",
        boundary="edge", channels=2)), 2, covers=(wavedil.CWT, wavedil.DecimatedCWTStream),
        gaps=NUMPY_GAPS),
    # the torch modules, through their streaming() blocks
    Entry("nn.CausalConv1d", lambda: TorchOp(_torch(7, lambda: wnn.CausalConv1d(
        2, 3, 3, dilation=2))), 2, covers=(wnn.CausalConv1d, wnn.layers.TorchStream), **TORCH),
    Entry("nn.TCN", lambda: TorchOp(_torch(8, lambda: wnn.TCN(
        2, [4, 3], kernel_size=3, dilations=[1, 4], out_channels=1))), 2, covers=(wnn.TCN,),
        **TORCH),
    Entry("nn.WaveNet-cond", lambda: _wavenet_cond(lambda: TorchOp(_torch(9, lambda: wnn.WaveNet(
        1, **NUMPY_WAVENET, global_cond_channels=2, local_cond_channels=3)))), 1 + 3,
        covers=(wnn.WaveNet,), **TORCH),
    Entry("nn.Stack", lambda: TorchOp(_torch(10, lambda: wnn.Stack(NN_STACK, in_channels=1))),
          1, covers=(wnn.Stack,), **TORCH),
    Entry("nn.AlignedConv1d", lambda: TorchOp(_torch(11, lambda: wnn.AlignedConv1d(
        2, 3, 3, dilation=2, alignment=(1, 3)))), 2, covers=(wnn.AlignedConv1d,), **TORCH),
    Entry("nn.TCN-centered", lambda: TorchOp(_torch(12, lambda: wnn.TCN(
        2, [4, 3], kernel_size=3, dilations=[1, 4], out_channels=1, alignment="centered"))), 2,
        covers=(wnn.TCN,), **TORCH),
    Entry("nn.WaveNet-cond-centered", lambda: _wavenet_cond(lambda: TorchOp(_torch(
        13, lambda: wnn.WaveNet(1, **NUMPY_WAVENET, global_cond_channels=2,
                                local_cond_channels=3, alignment="centered")))), 1 + 3,
        covers=(wnn.WaveNet,), **TORCH),
]}


def build(name: str):
    """A fresh operator of registry entry ``name``."""
    return ENTRIES[name].make()


def shape_of(entry: Entry, layout: str, length: int) -> tuple[int, ...]:
    c = entry.channels
    return {"1d": (length,), "2d": (c, length), "3d": (3, c, length),
            "batch": (2, c, length)}[layout]


def make_input(entry: Entry, layout: str, length: int, dtype, seed: int) -> np.ndarray:
    shape = shape_of(entry, layout, length)
    if entry.make_input is not None:
        return entry.make_input(shape, dtype, seed)
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def layouts(entry: Entry) -> tuple[str, ...]:
    return tuple(lay for lay in entry.layouts if lay != "1d" or entry.channels == 1)
