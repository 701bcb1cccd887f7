"""Aligned convolution in torch, and streaming: chunked forward calls equal the offline call.

``AlignedConv1d`` is an ``nn.Conv1d`` padded ``left`` zeros before and ``right`` after
(``left + right = (K - 1) * dilation``, from an alignment as ``wavedil.engine.spec``), so
output ``n`` sees inputs ``n - left .. n + right``, as ``wavedil.engine.conv.DilatedConv1d``;
``CausalConv1d`` is its causal case (``left = (K - 1) * dilation``, tap ``K - 1`` on the
newest sample). ``Delay`` lines up a model's branches while it streams with lookahead
(offline it is the identity: every branch has the signal's length).

``Streaming`` (a mixin of every wavedil torch model, and of ``CausalConv1d`` itself) gives
the numpy streams' words::

    s = model.stream(batch=2)                           # a TorchStream
    parts = [s.process(chunk) for chunk in chunks] + [s.flush()]   # == model(x)
    state = s.state_dict()     # plain numpy arrays + meta, as a numpy stream's

Each ``AlignedConv1d`` keeps the last ``(K - 1) * dilation`` samples of its input in a
preallocated tensor with room to append (compacted every ``room`` samples), and a chunk
gathers only the ``K`` taps it needs: per-chunk work follows the chunk and the taps, never
the dilation. With lookahead a conv holds back ``right`` samples and each ``Delay`` its
``delay`` samples; ``flush`` runs the module once more on no input, each of them giving out
what it held back (the stream's latency is the module's, its spec tree's future extent).
A state holds ``"<name>.history"`` arrays ``(B, C, n)`` (a conv's input, a delay line's
waiting samples), a WaveNet's last ``global_cond`` when it has lookahead, and the numpy
stream's ``meta`` (config with ``op``, layout), so a torch model's stream state and its
numpy twin's (``wavedil.nn.to_numpy``) load into each other. Streaming is for inference:
the weights are read (weight norm folded) once when a stream starts, and the kept history
is detached from autograd. The older block form ``with model.streaming(batch_size):``
(forward calls continue one stream; ``stream_state``, ``load_stream_state``,
``reset_stream``; causal modules only, as it has no flush) runs on the same stream object.

Shape: ``(B, C_in, T)`` in, ``(B, C_out, T)`` out (a stream also takes ``(C_in, T)`` and
``(T,)``, as the numpy ones); chunks of any length (0 included).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from ..engine.checks import positive_int
from ..engine.finite import check_signal
from ..engine.params import check_budget, flag, integer
from ..engine.spec import LayerSpec, resolve_alignment
from ..engine.state import ArraySpec, check_fill, check_together, fill_table
from ..engine.stream import Layout, Stream, single_consumer
from .finite import check_conv_call, check_stream_budget

ROOM = 256  # minimum spare samples behind a history before it is compacted
_INSTALLING = threading.Lock()  # held while a stream checks and installs its steppers
GATHER_MAX = 24  # chunks up to this length gather their taps with one index_select


if TYPE_CHECKING:  # what the mixin is mixed into (at run time it adds no base class)
    _Module = nn.Module
else:
    _Module = object


class Streaming(_Module):
    """Mixin: ``stream(batch)`` (the numpy streams' words), and the older block form
    ``streaming(batch_size)`` with ``reset_stream``, ``stream_state``, ``load_stream_state``."""

    in_channels: int
    out_channels: int
    _active: TorchStream | None  # the stream of a ``streaming`` block

    @property
    def latency(self) -> int:
        """Samples of lookahead a stream of this module holds back (0: causal)."""
        raise NotImplementedError

    def stream(self, batch: int | None = None) -> TorchStream:
        """A fresh stream of this module (latency ``self.latency``); ``batch`` fixes the
        batch size."""
        return TorchStream(self, batch)

    def stream_config(self) -> dict[str, Any]:
        """The configuration a saved stream state must come from (as the numpy twin's)."""
        raise NotImplementedError

    def _stream_forward(self, x: torch.Tensor, **cond: torch.Tensor | None) -> torch.Tensor:
        """The forward call a stream makes on ``(B, C_in, m)`` chunks."""
        return self(x, **cond)

    def _flush_cond(self, batch: int, like: torch.Tensor) -> dict[str, torch.Tensor]:
        """The conditioning of the flush's empty chunk besides the saved one (a WaveNet's)."""
        return {}

    def _steppable(self) -> list[tuple[str, AlignedConv1d | Delay]]:
        """The convs and delay lines that keep a stream's state, by module name."""
        return [(name, m) for name, m in self.named_modules()
                if isinstance(m, AlignedConv1d) or (isinstance(m, Delay) and m.delay)]

    @contextmanager
    def streaming(self, batch_size: int = 1) -> Iterator[Streaming]:
        """Within this block, forward calls continue one stream of ``batch_size`` sequences
        (causal modules; with lookahead use ``stream()``, whose ``flush`` ends it)."""
        batch_size = positive_int(batch_size, "batch_size")
        if self.latency:
            raise ValueError(f"streaming() blocks have no flush, and this module holds back "
                             f"{self.latency} samples of lookahead: use s = "
                             f"module.stream({batch_size}), s.process(chunk), s.flush()")
        stream = TorchStream(self, batch_size)
        stream.start(batch_size, _numpy_dtype(_weights_dtype(self)))
        with stream.installed():
            self._active = stream
            try:
                yield self
            finally:
                self._active = None

    def reset_stream(self) -> None:
        """Forget the past: the stream continues as if it had just started."""
        stream = self._active_stream()
        for conv in stream.state.convs.values():
            conv.reset()

    def stream_state(self) -> dict[str, torch.Tensor]:
        """The kept histories, ``{"<conv name>.history": (B, C_in, (K-1)*dilation)}`` copies."""
        return {key: torch.from_numpy(value)
                for key, value in self._active_stream().export_state().items()}

    def load_stream_state(self, state: dict) -> None:
        """Continue from ``stream_state()`` (tensors or numpy arrays); all checked first."""
        stream = self._active_stream()
        layout = stream.layout
        assert layout is not None  # started by ``streaming``
        extra = sorted(set(state) - set(stream.state_spec(layout)))
        if extra:
            raise ValueError(f"stream state does not fit this model: unexpected {extra}")
        arrays = {k: torch.as_tensor(v).detach().cpu().numpy() for k, v in state.items()}
        arrays = {k: v.astype(layout.dtype, copy=False) for k, v in arrays.items()}
        stream.check_state(arrays, layout)
        stream.import_state(arrays, layout.batch, layout.dtype)

    def _active_stream(self) -> TorchStream:
        stream = getattr(self, "_active", None)
        if stream is None:
            raise RuntimeError("not streaming: call this inside `with model.streaming(batch):`")
        return stream


def _key(name: str) -> str:
    return f"{name}.history" if name else "history"


def _weights_dtype(module: nn.Module) -> torch.dtype:
    return next(module.parameters()).dtype


def _numpy_dtype(dtype: torch.dtype) -> np.dtype:
    return torch.empty(0, dtype=dtype).numpy().dtype


@dataclass
class TorchStreamState:
    """What a torch stream remembers: each ``AlignedConv1d``'s stepper (its weights read
    once and its history) and each ``Delay``'s by module name; with lookahead, the last
    chunk's conditioning (``local_cond`` cut to no samples), which the flush computes with."""

    convs: dict[str, _ConvStream | _DelayStream]
    cond: dict[str, torch.Tensor]


class TorchStream(Stream):
    """A stream of a wavedil torch module, with the numpy streams' protocol and state format
    (``process``, ``flush``, ``reset``, ``state_dict``, ``load_state_dict``).

    Its convs' steppers are installed in the module for the length of each ``process``
    call only, so several streams of one module keep separate states.
    """

    state: TorchStreamState

    def __init__(self, module: Streaming, batch: int | None = None) -> None:
        in_channels, out_channels = module.in_channels, module.out_channels
        super().__init__(in_channels, out_channels, module.latency, batch)
        self.module = module

    def __repr__(self) -> str:
        return (f"TorchStream(op={self.config()['op']}, latency={self.latency}, "
                f"batch={self.batch})")

    def config(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.module.stream_config()))

    @single_consumer
    def process(  # type: ignore[override]  # the numpy protocol in torch types: tensors out
            self, chunk: torch.Tensor | npt.ArrayLike,
            **cond: torch.Tensor | npt.ArrayLike | None) -> torch.Tensor:
        """Feed ``chunk`` (and a WaveNet's conditioning); return the ready output."""
        if isinstance(chunk, torch.Tensor):
            chunk = chunk.detach().cpu().numpy()
        dtype = _numpy_dtype(_weights_dtype(self.module))
        if np.asarray(chunk).dtype != dtype:
            raise TypeError(f"this model computes in {dtype}, got a chunk of "
                            f"{np.asarray(chunk).dtype}")
        x, layout = self.accept(chunk)
        for name, value in cond.items():  # the non-finite policy, before anything changes
            if value is not None:
                check_signal(value.detach().cpu().numpy() if isinstance(value, torch.Tensor)
                             else np.asarray(value), name)
        self.begin(layout)
        tensors = self._cond(cond, layout)
        y = self.step(x, **tensors)  # (the module checks the conditioning)
        if self.latency:  # the flush computes with the last conditioning
            self.state.cond = {k: (v[..., :0] if k == "local_cond" else v)
                               for k, v in tensors.items() if v is not None}
        return torch.from_numpy(self.restore(y))

    @single_consumer
    def flush(self) -> torch.Tensor:  # type: ignore[override]  # as process: a tensor
        """End the stream: the last ``latency`` samples (empty if causal)."""
        if self.layout is None and not self.flushed:
            self.start(self.batch or 1, _numpy_dtype(_weights_dtype(self.module)),
                       3 if self.batch is not None else 2)
        return torch.from_numpy(np.ascontiguousarray(super().flush()))

    def finish(self) -> np.ndarray:
        """The module run on no input, each conv and delay line giving out what it holds."""
        layout = self.layout
        assert layout is not None
        if not self.latency:
            return super().finish()
        like = next(self.module.parameters())
        cond = {**self.module._flush_cond(layout.batch, like), **self.state.cond}
        steppers = self.state.convs.values()
        for stepper in steppers:
            stepper.final = True
        try:
            return self.step(np.zeros((layout.batch, self.in_channels, 0), layout.dtype), **cond)
        finally:
            for stepper in steppers:
                stepper.final = False

    def new_state(self, batch: int, dtype: np.dtype) -> TorchStreamState:
        like = next(self.module.parameters())
        parts = self.module._steppable()
        check_stream_budget(type(self.module).__name__, batch, like, ROOM, [p for _, p in parts])
        return TorchStreamState({name: _ConvStream(part, batch) if isinstance(
            part, AlignedConv1d) else _DelayStream(part, batch, like)
            for name, part in parts}, {})

    def step(self, x: np.ndarray, **cond: torch.Tensor | None) -> np.ndarray:
        device = self.module_device()
        with torch.no_grad(), self.installed():
            y = self.module._stream_forward(torch.from_numpy(x).to(device), **cond)
        return y.detach().cpu().numpy()

    def module_device(self) -> torch.device:
        return next(self.module.parameters()).device

    @contextmanager
    def installed(self) -> Iterator[None]:
        """The state's steppers in the module's convs and delays, for one call or block."""
        convs = self.module._steppable()
        with _INSTALLING:  # (another stream of the module may be installing in another thread)
            if any(conv._stream is not None for _, conv in convs):
                raise RuntimeError("this module is already streaming (a `streaming` block, or "
                                   "another of its streams in another thread); leave that "
                                   "block first, or give each thread its own module")
            steppers = self.state.convs
            for name, conv in convs:
                conv._stream = steppers[name]
        try:
            yield
        finally:
            for _, conv in convs:
                conv._stream = None

    def export_state(self) -> dict[str, np.ndarray]:
        if self.state is None:
            return {}
        out = {_key(name): conv.history.recent().detach().cpu().numpy().copy()
               for name, conv in self.state.convs.items()
               if conv.history is not None and conv.started}
        if "global_cond" in self.state.cond:
            out["global_cond"] = self.state.cond["global_cond"].detach().cpu().numpy().copy()
        return out

    def state_spec(self, layout: Layout) -> dict[str, ArraySpec | None]:
        """Each conv's and delay line's ``{name}.history``: a conv's last ``span`` inputs
        (at least its left padding), a delay line's samples not yet out (a state of the
        numpy twin may leave them out before any sample, or hold an empty one for a conv
        without taps); with lookahead, the saved ``global_cond`` ``(B, C_gc)``."""
        spec: dict[str, ArraySpec | None] = {}
        for name, part in self.module._steppable():
            if isinstance(part, AlignedConv1d):
                size, least = part.span, min(part.span, part.left)
                spec[_key(name)] = ArraySpec((layout.batch, part.in_channels, size),
                                             layout.dtype, required=False, shortest=least)
            else:
                spec[_key(name)] = ArraySpec((layout.batch, part.channels, part.delay),
                                             layout.dtype, required=False, shortest=0)
        width = getattr(self.module, "config", {}).get("global_cond_channels", 0)
        if self.latency and width:
            spec["global_cond"] = ArraySpec((layout.batch, width), layout.dtype,
                                            required=False)
        return spec

    def check_state(self, arrays: Mapping[str, Any], layout: Layout) -> None:
        model_dtype = _numpy_dtype(_weights_dtype(self.module))
        if layout.dtype != model_dtype:
            raise ValueError(f"state is {layout.dtype}, this model computes in {model_dtype}")
        fed = any(np.shape(v)[-1] for k, v in arrays.items() if k.endswith("history"))
        if "global_cond" in self.state_spec(layout) and fed and "global_cond" not in arrays:
            raise ValueError("state is missing 'global_cond': a WaveNet stream with lookahead "
                             "keeps the last chunk's global_cond for its flush")
        if self.latency:  # the convs and delay lines fill in turn
            self._check_fill(arrays, layout)
        else:
            check_together(arrays, [_key(name) for name, conv in self.module._steppable()
                                    if isinstance(conv, AlignedConv1d) and conv.span],
                           "the convs of a model start together")

    def _check_fill(self, arrays: Mapping[str, Any], layout: Layout) -> None:
        """The lengths a probe stream of this module shows after some count of zero
        samples (``wavedil.engine.state.check_fill``)."""
        if "_fill" not in self.__dict__:
            specs = self.full_state_spec(layout)
            most = max((spec.shape[-1] for spec in specs.values() if spec is not None),
                       default=0)
            probe = self.module.stream(1)
            config = getattr(self.module, "config", {})
            cond = {name: np.zeros((1, width) + ((1,) if name == "local_cond" else ()),
                                   layout.dtype)
                    for name in ("global_cond", "local_cond")
                    if (width := config.get(f"{name}_channels", 0))}
            probe.process(np.zeros((1, self.in_channels, 0), layout.dtype), **{
                name: value[..., :0] if name == "local_cond" else value
                for name, value in cond.items()})  # started, no sample
            zero = np.zeros((1, self.in_channels, 1), layout.dtype)
            self.__dict__["_fill"] = fill_table(probe.state_dict,
                                                lambda: probe.process(zero, **cond),
                                                self.latency + most + 1)
        check_fill(arrays, self.__dict__["_fill"])

    def import_state(self, arrays: Mapping[str, Any], batch: int, dtype: np.dtype) -> None:
        """Load ``{name}.history`` arrays (absent: zeros, or an empty delay line; an empty
        one for a conv without taps, as a numpy grouped 1x1 conv saves it) and a saved
        ``global_cond``; all checked before any is loaded."""
        model_dtype = _numpy_dtype(_weights_dtype(self.module))
        if dtype != model_dtype:
            raise ValueError(f"state is {dtype}, this model computes in {model_dtype}")
        convs = {_key(name): conv for name, conv in self.state.convs.items()}
        known = {k for k in arrays if k.endswith("history")}
        extra = sorted(k for k in known - set(convs))
        if extra:
            raise ValueError(f"stream state does not fit this model: unexpected {extra}")
        loads = []
        for key, conv in convs.items():
            if key not in arrays:
                continue
            value = np.asarray(arrays[key])
            size = 0 if conv.history is None else conv.history.size
            least = min(size, conv.least)  # a conv keeps at least its left padding
            want = (batch, conv.channels, size if least == size else f"{least}..{size}")
            if value.dtype != dtype or value.ndim != 3 or value.shape[:2] != want[:2] \
                    or not least <= value.shape[2] <= size:
                raise ValueError(f"stream state '{key}' must have shape "
                                 f"({', '.join(map(str, want))}) and dtype {dtype}, got "
                                 f"{value.shape} {value.dtype}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"stream state '{key}' must be finite")
            if conv.history is not None and size:
                loads.append((conv, value))
        cond = {}
        if "global_cond" in arrays:
            value = np.asarray(arrays["global_cond"])
            if not self.latency or value.dtype != dtype or value.ndim != 2 or \
                    value.shape[0] != batch:
                raise ValueError(f"stream state 'global_cond' must be {dtype} (B, C_gc) with "
                                 f"B = {batch} (a stream with lookahead), got {value.dtype} "
                                 f"{value.shape}")
            cond["global_cond"] = torch.from_numpy(value.copy()).to(self.module_device())
        for conv, value in loads:
            assert conv.history is not None  # (only convs with a history are loaded)
            conv.history.load(value)
            conv.started = True
        self.state.cond = cond

    def _cond(self, cond: dict, layout: Layout) -> dict[str, torch.Tensor | None]:
        """The conditioning as tensors of the batched layout (``(C,)`` -> ``(1, C)``,
        ``(C, T)`` -> ``(1, C, T)`` for unbatched chunks)."""
        out = {}
        for name, value in cond.items():
            if value is not None:
                value = torch.as_tensor(np.asarray(value) if not isinstance(
                    value, torch.Tensor) else value).to(self.module_device())
                if layout.ndim < 3:
                    value = value.unsqueeze(0)
            out[name] = value
        return out


class AlignedConv1d(Streaming, nn.Conv1d):
    """A dilated ``nn.Conv1d`` padded ``left`` zeros before and ``right`` after its input.

    Args:
        in_channels, out_channels, kernel_size, dilation, groups, bias: as ``nn.Conv1d``
            (stride 1, no padding argument: the padding is the alignment's).
        alignment: ``"causal"``, ``"centered"`` or ``(left, right)`` with
            ``left + right == (K - 1) * dilation`` (``right``: the lookahead, the latency
            of its stream).

    >>> conv = AlignedConv1d(1, 1, kernel_size=3, alignment="centered", bias=False)
    >>> _ = conv.weight.data.copy_(torch.tensor([[[1.0, 10.0, 100.0]]]))
    >>> conv(torch.arange(1.0, 5.0).view(1, 1, 4)).flatten().tolist(), conv.latency
    ([210.0, 321.0, 432.0, 43.0], 1)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1,
                 groups: int = 1, bias: bool = True,
                 alignment: str | tuple[int, int] = "causal",
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None,
                 ) -> None:
        in_channels, out_channels, kernel_size, dilation, groups = (
            integer(value, name) for value, name in (
                (in_channels, "in_channels"), (out_channels, "out_channels"),
                (kernel_size, "kernel_size"), (dilation, "dilation"), (groups, "groups")))
        bias = flag(bias, "bias")
        span = (kernel_size - 1) * dilation
        check_budget(8.0 * max(out_channels * (in_channels // groups) * kernel_size,
                               in_channels * span),
                     f"a conv of in_channels={in_channels}, out_channels={out_channels}, "
                     f"kernel_size={kernel_size}, dilation={dilation}: its weights or its "
                     f"history of (K - 1) * dilation = {span} samples", "use a smaller conv")
        super().__init__(in_channels, out_channels, kernel_size, stride=1, padding=0,
                         dilation=dilation, groups=groups, bias=bias, device=device, dtype=dtype)
        self.left, self.right = resolve_alignment(alignment, self.span)
        self._stream: _ConvStream | None = None

    @property
    def span(self) -> int:
        """``(K - 1) * dilation``: the samples of context around each output."""
        return (self.kernel_size[0] - 1) * self.dilation[0]

    @property
    def latency(self) -> int:
        """Samples a stream holds back: the lookahead ``right`` (0 when causal)."""
        return self.right

    def stream_config(self) -> dict[str, Any]:
        """As a numpy ``DilatedConv1d`` stream's: a state saved by one loads into the other."""
        return {"op": "DilatedConv1d", "in_channels": self.in_channels,
                "kernel_size": self.kernel_size[0], "dilation": self.dilation[0],
                "extent": [self.left, self.right], "boundary": "zero"}

    @property
    def spec(self) -> LayerSpec:
        """This conv's ``LayerSpec`` (its extent), for receptive-field tooling."""
        return LayerSpec(kernel_size=self.kernel_size[0], dilation=self.dilation[0],
                         left=self.left, right=self.right, in_channels=self.in_channels,
                         out_channels=self.out_channels, groups=self.groups,
                         name=type(self).__name__)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, T)`` in, ``(B, C_out, T)`` out (zero padding ``(left, right)``); while a
        stream runs, a chunk in and its ready samples out."""
        check_conv_call(x, self.out_channels)
        if self._stream is not None:
            return self._stream.step(x)
        if x.shape[-1] == 0:
            return x.new_zeros(x.shape[:-2] + (self.out_channels, 0))
        return self._conv_forward(F.pad(x, (self.left, self.right)), self.weight, self.bias)


class CausalConv1d(AlignedConv1d):
    """A causal dilated ``nn.Conv1d``: ``(K - 1) * dilation`` zeros of left padding.

    Args:
        in_channels, out_channels, kernel_size, dilation, groups, bias: as ``nn.Conv1d``
            (stride 1, no padding argument: the padding is the causal one).

    >>> conv = CausalConv1d(1, 1, kernel_size=2, dilation=3, bias=False)
    >>> _ = conv.weight.data.copy_(torch.tensor([[[1.0, 10.0]]]))
    >>> conv(torch.arange(1.0, 6.0).view(1, 1, 5)).flatten().tolist()
    [10.0, 20.0, 30.0, 41.0, 52.0]
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1,
                 groups: int = 1, bias: bool = True, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, dilation, groups, bias,
                         "causal", device, dtype)


class Delay(nn.Module):
    """``delay`` samples of delay on a branch of ``channels`` channels while streaming; the
    identity offline (where every branch has the signal's length).

    A model with lookahead places one where branches of unequal lookahead meet, its delay
    derived from the convs' extents (``wavedil.models.alignment``).
    """

    def __init__(self, channels: int, delay: int) -> None:
        super().__init__()
        self.channels, self.delay = int(channels), int(delay)
        self._stream: _DelayStream | None = None

    def extra_repr(self) -> str:
        return f"channels={self.channels}, delay={self.delay}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self._stream is None else self._stream.push(x)


class _History:
    """The last ``size`` samples of ``(B, C, T)`` (``kept`` of them so far), in a tensor
    with room to append."""

    def __init__(self, batch: int, channels: int, size: int, like: torch.Tensor,
                 kept: int = 0) -> None:
        self.size, self.kept = size, kept
        self.buf = like.new_zeros((batch, channels, size + max(size, ROOM)))
        self.end = kept  # the first `kept` samples: zeros before the start

    def append(self, x: torch.Tensor) -> torch.Tensor:
        """Write ``x`` after the history; a view of history + ``x`` (``kept + m`` samples)."""
        m, kept = x.shape[-1], self.kept
        if self.end + m > self.buf.shape[-1]:
            past = self.buf[..., self.end - kept : self.end].clone()
            if kept + m > self.buf.shape[-1]:
                self.buf = self.buf.new_zeros(self.buf.shape[:2] + (kept + m + max(self.size,
                                                                                  ROOM),))
            self.buf[..., :kept] = past
            self.end = kept
        self.buf[..., self.end : self.end + m] = x.detach()
        self.end += m
        self.kept = min(self.size, kept + m)
        return self.buf[..., self.end - m - kept : self.end]

    def recent(self) -> torch.Tensor:
        return self.buf[..., self.end - self.kept : self.end]

    def load(self, values) -> None:
        """Replace the history by ``values`` (``(B, C, n)``, ``n <= size``)."""
        n = np.shape(values)[-1]
        self.buf.zero_()
        self.buf[..., :n] = torch.as_tensor(values, dtype=self.buf.dtype, device=self.buf.device)
        self.end = self.kept = n


class _ConvStream:
    """One ``AlignedConv1d``'s streaming state: weights read once, a history of its input
    (``left`` zeros at the start); in the flush (``final``) it appends ``right`` zeros.

    A chunk of ``m`` samples gathers its ``K`` taps (one ``index_select`` for short chunks,
    ``K`` slice copies for long ones) into an im2col matrix ``(B, C_in * K, n)`` and
    multiplies it by the weight ``(C_out, C_in * K)``: ``K * n`` samples copied whatever the
    dilation (grouped convs convolve the window instead).
    """

    def __init__(self, conv: AlignedConv1d, batch: int) -> None:
        self.conv, self.batch, self.final = conv, batch, False
        self.channels, self.least = conv.in_channels, conv.left  # (a saved history's least)
        with torch.no_grad():
            self.weight = conv.weight.detach().clone()
            self.matrix = self.weight.reshape(conv.out_channels, -1)
            self.bias = None if conv.bias is None else conv.bias.detach().clone()
            self.bias_column = None if self.bias is None else self.bias[:, None]
        self.history: _History | None = None
        # output count -> gather index of the K taps of each output
        self._index: dict[int, torch.Tensor] = {}
        self.reset()

    def __repr__(self) -> str:
        return f"_ConvStream({self.conv!r}, batch={self.batch})"

    def reset(self) -> None:
        conv = self.conv
        self.started = False  # saved from its first sample on, as the numpy streams do
        if conv.span:
            self.history = _History(self.batch, conv.in_channels, conv.span, self.weight,
                                    kept=conv.left)

    def step(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        if x.dim() != 3 or x.shape[0] != self.batch or x.shape[1] != conv.in_channels:
            raise ValueError(f"expected chunks of shape ({self.batch}, {conv.in_channels}, T) "
                             f"while streaming, got {tuple(x.shape)}")
        y = self._step(x)
        if self.final and conv.right:
            y = torch.cat([y, self._step(x.new_zeros(x.shape[:2] + (conv.right,)))], -1)
        return y

    def _step(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        if x.shape[-1] == 0:
            return x.new_zeros((self.batch, conv.out_channels, 0))
        self.started = True
        if self.history is None:  # kernel size 1: nothing to remember
            return F.conv1d(x, self.weight, self.bias, groups=conv.groups)
        window = self.history.append(x)
        m = window.shape[-1] - conv.span  # the outputs ready (fewer at the start if right > 0)
        if m <= 0:
            return x.new_zeros((self.batch, conv.out_channels, 0))
        taps, dilation = conv.kernel_size[0], conv.dilation[0]
        if conv.groups != 1:
            return F.conv1d(window, self.weight, self.bias, dilation=dilation,
                            groups=conv.groups)
        if m <= GATHER_MAX:  # one index_select: fewest calls
            index = self._index.get(m)
            if index is None:  # tap t of output j reads sample t * d + j of the window
                steps = torch.arange(0, taps * dilation, dilation, device=window.device)
                index = self._index[m] = (steps[:, None] + torch.arange(m, device=window.device)
                                          ).flatten()
            cols = window.index_select(-1, index)
        else:  # K slice copies: the fastest copies
            cols = torch.stack([window[..., t * dilation : t * dilation + m]
                                for t in range(taps)], dim=2)
        cols = cols.view(self.batch, -1, m)  # row c * K + t is tap t of input channel c
        if self.bias_column is None:
            return torch.matmul(self.matrix, cols)
        return torch.baddbmm(self.bias_column, self.matrix.expand(self.batch, -1, -1), cols)


class _DelayStream:
    """One ``Delay``'s streaming state: the samples not yet ``delay`` old; in the flush
    (``final``) it gives them all out."""

    started = True  # a delay line is saved from the start, as the numpy ones are

    def __init__(self, delay: Delay, batch: int, like: torch.Tensor) -> None:
        self.delay, self.batch, self.final = delay, batch, False
        self.channels, self.least, self._like = delay.channels, 0, like
        self.history: _History
        self.reset()

    def reset(self) -> None:
        self.history = _History(self.batch, self.channels, self.delay.delay, self._like)

    def push(self, x: torch.Tensor) -> torch.Tensor:
        window = self.history.append(x)
        ready = window[..., : max(0, window.shape[-1] - self.delay.delay)].clone()
        if self.final:
            ready = torch.cat([ready, self.history.recent().clone()], -1)
            self.history.kept = 0
        return ready
