"""Causal convolution in torch, and streaming: chunked forward calls equal the offline call.

``CausalConv1d`` is an ``nn.Conv1d`` padded ``(K - 1) * dilation`` zeros on the left, so
output ``n`` sees inputs ``n - (K - 1) * dilation .. n`` (tap ``K - 1`` on the newest
sample, as ``wavedil.engine.conv.DilatedConv1d`` in causal alignment).

``Streaming`` (a mixin of every wavedil torch model, and of ``CausalConv1d`` itself) turns
a model into a stream for a while::

    with model.streaming(batch_size=2):
        parts = [model(chunk) for chunk in chunks]      # torch.cat(parts, -1) == model(x)

Inside the block each ``CausalConv1d`` keeps the last ``(K - 1) * dilation`` samples of
its input in a preallocated tensor with room to append (compacted every ``room`` samples),
and a chunk gathers only the ``K`` taps it needs: per-chunk work follows the chunk and
the taps, never the dilation. ``reset_stream()`` forgets the past,
``stream_state()`` / ``load_stream_state()`` save and restore it (a dict of tensors named
``"<conv name>.history"``, the names the numpy streams use). Streaming is for inference:
the weights are read (weight norm folded) once when the block starts, and the kept
history is detached from autograd.

Shape: ``(B, C_in, T)`` in, ``(B, C_out, T)`` out; chunks of any length (0 included).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..engine.checks import positive_int
from ..engine.spec import LayerSpec

ROOM = 256  # minimum spare samples behind a history before it is compacted
GATHER_MAX = 24  # chunks up to this length gather their taps with one index_select


class Streaming:
    """Mixin: ``streaming(batch)``, ``reset_stream``, ``stream_state``, ``load_stream_state``."""

    def _causal_convs(self) -> list[tuple[str, CausalConv1d]]:
        return [(name, m) for name, m in self.named_modules() if isinstance(m, CausalConv1d)]

    @contextmanager
    def streaming(self, batch_size: int = 1) -> Iterator[Any]:
        """Within this block, forward calls continue one stream of ``batch_size`` sequences."""
        batch_size = positive_int(batch_size, "batch_size")
        convs = [conv for _, conv in self._causal_convs()]
        if any(conv._stream is not None for conv in convs):
            raise RuntimeError("this module is already streaming; leave that block first")
        for conv in convs:
            conv._stream = _ConvStream(conv, batch_size)
        try:
            yield self
        finally:
            for conv in convs:
                conv._stream = None

    def reset_stream(self) -> None:
        """Forget the past: the stream continues as if it had just started."""
        for _, conv in self._streaming_convs():
            conv._stream.reset()

    def stream_state(self) -> dict[str, torch.Tensor]:
        """The kept histories, ``{"<conv name>.history": (B, C_in, (K-1)*dilation)}`` copies."""
        state = {}
        for name, conv in self._streaming_convs():
            if conv._stream.history is not None:
                state[_key(name)] = conv._stream.history.recent().clone()
        return state

    def load_stream_state(self, state: dict) -> None:
        """Continue from ``stream_state()`` (tensors or numpy arrays); all checked first."""
        convs = self._streaming_convs()
        expected = {_key(name): conv for name, conv in convs if conv._stream.history is not None}
        missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        if missing or extra:
            raise ValueError(f"stream state does not fit this model: missing {missing}, "
                             f"unexpected {extra}")
        for key, conv in expected.items():
            want = conv._stream.history.recent().shape
            if tuple(state[key].shape) != tuple(want):
                raise ValueError(f"stream state '{key}' must have shape {tuple(want)}, "
                                 f"got {tuple(state[key].shape)}")
        for key, conv in expected.items():
            conv._stream.history.load(state[key])

    def _streaming_convs(self):
        convs = self._causal_convs()
        if not convs or any(conv._stream is None for _, conv in convs):
            raise RuntimeError("not streaming: call this inside `with model.streaming(batch):`")
        return convs


def _key(name: str) -> str:
    return f"{name}.history" if name else "history"


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
                 groups: int = 1, bias: bool = True, device: Any = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=1, padding=0,
                         dilation=dilation, groups=groups, bias=bias, device=device, dtype=dtype)
        self._stream = None

    @property
    def span(self) -> int:
        """``(K - 1) * dilation``: the past samples each output sees (the left padding)."""
        return (self.kernel_size[0] - 1) * self.dilation[0]

    @property
    def spec(self) -> LayerSpec:
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

    def __init__(self, batch: int, channels: int, span: int, like: torch.Tensor):
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

    def __init__(self, conv: CausalConv1d, batch: int):
        self.conv, self.batch = conv, batch
        with torch.no_grad():
            self.weight = conv.weight.detach().clone()
            self.matrix = self.weight.reshape(conv.out_channels, -1)
            self.bias = None if conv.bias is None else conv.bias.detach().clone()
            self.bias_column = None if self.bias is None else self.bias[:, None]
        self.history = None
        self._index = {}  # chunk length -> gather index of the K taps of each output
        self.reset()

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
