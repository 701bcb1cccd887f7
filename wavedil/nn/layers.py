"""Causal convolution in torch, and streaming: chunked forward calls equal the offline call.

``CausalConv1d`` is an ``nn.Conv1d`` padded ``(K - 1) * dilation`` zeros on the left, so
output ``n`` sees inputs ``n - (K - 1) * dilation .. n`` (tap ``K - 1`` on the newest
sample, as ``wavedil.engine.conv.DilatedConv1d`` in causal alignment).

``Streaming`` (a mixin of every wavedil torch model, and of ``CausalConv1d`` itself) gives
the numpy streams' words::

    s = model.stream(batch=2)                           # a TorchStream
    parts = [s.process(chunk) for chunk in chunks] + [s.flush()]   # == model(x)
    state = s.state_dict()     # plain numpy arrays + meta, as a numpy stream's

Each ``CausalConv1d`` keeps the last ``(K - 1) * dilation`` samples of its input in a
preallocated tensor with room to append (compacted every ``room`` samples), and a chunk
gathers only the ``K`` taps it needs: per-chunk work follows the chunk and the taps, never
the dilation. A state holds ``"<conv name>.history"`` arrays ``(B, C_in, span)`` and the
numpy stream's ``meta`` (config with ``op``, layout), so a torch model's stream state and
its numpy twin's (``wavedil.nn.to_numpy``) load into each other. Streaming is for
inference: the weights are read (weight norm folded) once when a stream starts, and the
kept history is detached from autograd. The older block form ``with
model.streaming(batch_size):`` (forward calls continue one stream; ``stream_state``,
``load_stream_state``, ``reset_stream``) runs on the same stream object.

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
from ..engine.spec import LayerSpec
from ..engine.state import ArraySpec, check_together
from ..engine.stream import Layout, Stream, single_consumer

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

    def stream(self, batch: int | None = None) -> TorchStream:
        """A fresh stream of this module (latency 0); ``batch`` fixes the batch size."""
        return TorchStream(self, batch)

    def stream_config(self) -> dict[str, Any]:
        """The configuration a saved stream state must come from (as the numpy twin's)."""
        raise NotImplementedError

    def _causal_convs(self) -> list[tuple[str, CausalConv1d]]:
        return [(name, m) for name, m in self.named_modules() if isinstance(m, CausalConv1d)]

    @contextmanager
    def streaming(self, batch_size: int = 1) -> Iterator[Streaming]:
        """Within this block, forward calls continue one stream of ``batch_size`` sequences."""
        batch_size = positive_int(batch_size, "batch_size")
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
        expected = set(stream.export_state())
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or extra:
            raise ValueError(f"stream state does not fit this model: missing {missing}, "
                             f"unexpected {extra}")
        layout = stream.layout
        assert layout is not None  # started by ``streaming``
        arrays = {k: torch.as_tensor(v).detach().cpu().numpy() for k, v in state.items()}
        arrays = {k: v.astype(layout.dtype, copy=False) for k, v in arrays.items()}
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
    """What a torch stream remembers: each ``CausalConv1d``'s stepper (its weights read
    once and its history) by module name."""

    convs: dict[str, _ConvStream]


class TorchStream(Stream):
    """A stream of a wavedil torch module, with the numpy streams' protocol and state format
    (``process``, ``flush``, ``reset``, ``state_dict``, ``load_state_dict``).

    Its convs' steppers are installed in the module for the length of each ``process``
    call only, so several streams of one module keep separate states.
    """

    state: TorchStreamState

    def __init__(self, module: Streaming, batch: int | None = None) -> None:
        in_channels, out_channels = module.in_channels, module.out_channels
        super().__init__(in_channels, out_channels, 0, batch)
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
        self.begin(layout)
        return torch.from_numpy(self.restore(self.step(x, **self._cond(cond, layout))))

    @single_consumer
    def flush(self) -> torch.Tensor:  # type: ignore[override]  # as process: a tensor
        """End the stream: causal, so an empty ``(B, C_out, 0)`` output."""
        if self.layout is None and not self.flushed:
            self.start(self.batch or 1, _numpy_dtype(_weights_dtype(self.module)),
                       3 if self.batch is not None else 2)
        return torch.from_numpy(np.ascontiguousarray(super().flush()))

    def new_state(self, batch: int, dtype: np.dtype) -> TorchStreamState:
        return TorchStreamState({name: _ConvStream(conv, batch)
                                 for name, conv in self.module._causal_convs()})

    def step(self, x: np.ndarray, **cond: torch.Tensor | None) -> np.ndarray:
        device = self.module_device()
        with torch.no_grad(), self.installed():
            y = self.module(torch.from_numpy(x).to(device), **cond)
        return y.detach().cpu().numpy()

    def module_device(self) -> torch.device:
        return next(self.module.parameters()).device

    @contextmanager
    def installed(self) -> Iterator[None]:
        """The state's steppers in the module's convs, for one call or block."""
        convs = self.module._causal_convs()
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
        return {_key(name): conv.history.recent().detach().cpu().numpy().copy()
                for name, conv in self.state.convs.items() if conv.history is not None}

    def state_spec(self, layout: Layout) -> dict[str, ArraySpec | None]:
        """Each ``CausalConv1d``'s ``{name}.history``, its last ``span`` inputs (a state
        of the numpy twin may leave them out before any sample, or hold an empty one for
        a conv without taps)."""
        return {_key(name): ArraySpec((layout.batch, conv.in_channels, conv.span),
                                      layout.dtype, required=False)
                for name, conv in self.module._causal_convs()}

    def check_state(self, arrays: Mapping[str, Any], layout: Layout) -> None:
        model_dtype = _numpy_dtype(_weights_dtype(self.module))
        if layout.dtype != model_dtype:
            raise ValueError(f"state is {layout.dtype}, this model computes in {model_dtype}")
        check_together(arrays, [_key(name) for name, conv in self.module._causal_convs()
                                if conv.span], "the convs of a model start together")

    def import_state(self, arrays: Mapping[str, Any], batch: int, dtype: np.dtype) -> None:
        """Load ``{name}.history`` arrays (absent: zeros; an empty one for a conv without
        taps, as a numpy grouped 1x1 conv saves it); all checked before any is loaded."""
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
            span = 0 if conv.history is None else conv.history.span
            want = (batch, conv.conv.in_channels, span)
            if value.dtype != dtype or value.shape != want:
                raise ValueError(f"stream state '{key}' must have shape {want} and dtype "
                                 f"{dtype}, got {value.shape} {value.dtype}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"stream state '{key}' must be finite")
            if conv.history is not None and span:
                loads.append((conv.history, value))
        for history, value in loads:
            history.load(value)

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


class CausalConv1d(Streaming, nn.Conv1d):
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
        super().__init__(in_channels, out_channels, kernel_size, stride=1, padding=0,
                         dilation=dilation, groups=groups, bias=bias, device=device, dtype=dtype)
        self._stream: _ConvStream | None = None

    @property
    def span(self) -> int:
        """``(K - 1) * dilation``: the past samples each output sees (the left padding)."""
        return (self.kernel_size[0] - 1) * self.dilation[0]

    def stream_config(self) -> dict[str, Any]:
        """As a numpy ``DilatedConv1d`` stream's: a state saved by one loads into the other."""
        return {"op": "DilatedConv1d", "in_channels": self.in_channels,
                "kernel_size": self.kernel_size[0], "dilation": self.dilation[0],
                "extent": [self.span, 0], "boundary": "zero"}

    @property
    def spec(self) -> LayerSpec:
        """This conv's ``LayerSpec`` (causal), for receptive-field tooling."""
        return LayerSpec(kernel_size=self.kernel_size[0], dilation=self.dilation[0],
                         in_channels=self.in_channels, out_channels=self.out_channels,
                         groups=self.groups, name="CausalConv1d")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._stream is not None:
            return self._stream.step(x)
        if x.shape[-1] == 0:
            return x.new_zeros(x.shape[:-2] + (self.out_channels, 0))
        return self._conv_forward(F.pad(x, (self.span, 0)), self.weight, self.bias)


class _History:
    """The last ``span`` samples of ``(B, C, T)``, in a tensor with room to append."""

    def __init__(self, batch: int, channels: int, span: int, like: torch.Tensor) -> None:
        self.span = span
        self.buf = like.new_zeros((batch, channels, span + max(span, ROOM)))
        self.end = span  # zeros before the start

    def append(self, x: torch.Tensor) -> torch.Tensor:
        """Write ``x`` after the history; a view of history + ``x`` (``span + m`` samples)."""
        m, span = x.shape[-1], self.span
        if self.end + m > self.buf.shape[-1]:
            kept = self.buf[..., self.end - span : self.end].clone()
            if span + m > self.buf.shape[-1]:
                self.buf = self.buf.new_zeros(self.buf.shape[:2] + (span + m + max(span, ROOM),))
            self.buf[..., :span] = kept
            self.end = span
        self.buf[..., self.end : self.end + m] = x.detach()
        self.end += m
        return self.buf[..., self.end - m - span : self.end]

    def recent(self) -> torch.Tensor:
        return self.buf[..., self.end - self.span : self.end]

    def load(self, values) -> None:
        self.buf.zero_()
        self.buf[..., : self.span] = torch.as_tensor(values, dtype=self.buf.dtype,
                                                     device=self.buf.device)
        self.end = self.span


class _ConvStream:
    """One ``CausalConv1d``'s streaming state: weights read once, a history of its input.

    A chunk of ``m`` samples gathers its ``K`` taps (one ``index_select`` for short chunks,
    ``K`` slice copies for long ones) into an im2col matrix ``(B, C_in * K, m)`` and
    multiplies it by the weight ``(C_out, C_in * K)``: ``K * m`` samples copied whatever the
    dilation (grouped convs convolve the ``span + m`` window instead).
    """

    def __init__(self, conv: CausalConv1d, batch: int) -> None:
        self.conv, self.batch = conv, batch
        with torch.no_grad():
            self.weight = conv.weight.detach().clone()
            self.matrix = self.weight.reshape(conv.out_channels, -1)
            self.bias = None if conv.bias is None else conv.bias.detach().clone()
            self.bias_column = None if self.bias is None else self.bias[:, None]
        self.history: _History | None = None
        # chunk length -> gather index of the K taps of each output
        self._index: dict[int, torch.Tensor] = {}
        self.reset()

    def __repr__(self) -> str:
        return f"_ConvStream({self.conv!r}, batch={self.batch})"

    def reset(self) -> None:
        conv = self.conv
        if conv.span:
            self.history = _History(self.batch, conv.in_channels, conv.span, self.weight)

    def step(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        if x.dim() != 3 or x.shape[0] != self.batch or x.shape[1] != conv.in_channels:
            raise ValueError(f"expected chunks of shape ({self.batch}, {conv.in_channels}, T) "
                             f"while streaming, got {tuple(x.shape)}")
        m = x.shape[-1]
        if m == 0:
            return x.new_zeros((self.batch, conv.out_channels, 0))
        if self.history is None:  # kernel size 1: nothing to remember
            return F.conv1d(x, self.weight, self.bias, groups=conv.groups)
        window = self.history.append(x)
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
