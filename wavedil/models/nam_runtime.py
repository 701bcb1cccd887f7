"""The two runtimes of a NAM stream (``wavedil.models.nam``) and the state they share.

- ``FusedRuntime``: the fused time-major chain (``wavedil.engine.fused``): per dilated conv
  its products (numpy's BLAS, im2col or Winograd) with compiled gathers, the rest in numpy
  over the whole chunk; histories are ``History`` buffers. Fast for long chunks.
- ``build_program``: the arguments of the compiled passes (``wavedil.models.nam_kernel``:
  sample by sample, or layer by layer over the chunk), whose histories are rings. Fast for
  short chunks, where the fused chain's per-layer calls would dominate.

Both compute the module docstring's formulas of ``wavedil.models.nam`` on the same values;
``ring_histories`` and ``load_rings`` move a state between the two (the engine's
``{name}.history`` ``(B, C_in, span)`` layout in between).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from ..engine.conv import checked_history
from ..engine.fused import (
    FusedChain,
    FusedConv,
    WinogradProducts,
    compiled_passes,
    pointwise_tm,
    store_product,
)
from .base import BLOCK
from .nam_activations import apply, apply_layer

RingLayout = dict[str, tuple[int, int, int, int, int]]  # conv -> (offset, mask, span, C_in,
# ROOM: wavedil.models.nam_kernel)


class _Layer(NamedTuple):
    conv: str  # the dilated conv's name
    mix: slice  # its mixin's columns in the stacked mixin projection
    activation: dict[str, Any]
    out: tuple[np.ndarray, np.ndarray] | None  # layer1x1 | head1x1 as one time-major 1x1
    residual: bool  # whether out starts with the layer1x1 (else the residual adds p)
    head: bool  # whether out ends with the head1x1 (else the head term is p)


class _Array(NamedTuple):
    rechannel: np.ndarray  # (C_in, C), no bias
    layers: list[_Layer]
    channels: int
    head: str | tuple[np.ndarray, np.ndarray]  # a fused conv's name or a time-major 1x1


class FusedRuntime:
    """A ``NAM``'s fused chain in one dtype: weights laid out for time-major products; the
    histories are the caller's (``new_histories``, ``run``)."""

    def __init__(self, model: Any, w: dict[str, np.ndarray], dtype: np.dtype) -> None:
        c, self.kernels = model.config, compiled_passes()
        self.chain = FusedChain({name: FusedConv(conv, dtype)
                                 for name, conv in model.dilated_convs.items()}, BLOCK)
        arrays, mixins, start = [], [], 0
        for i, a in enumerate(c["layer_arrays"]):
            p, layers = f"arrays.{i}.", []
            for j, act in enumerate(a["activations"]):
                q = f"{p}layers.{j}."
                mixin = w[q + "mixin.weight"]  # (mid, 1)
                mixins.append(mixin[:, 0])
                outs = [n for n in (q + "layer1x1", q + "head1x1") if n + ".weight" in w]
                out = None
                if outs:
                    out = (np.ascontiguousarray(np.concatenate([w[n + ".weight"] for n in outs]).T),
                           np.concatenate([w[n + ".bias"][:, 0] for n in outs]))
                layers.append(_Layer(q + "conv", slice(start, start + len(mixin)), act, out,
                                     a["layer1x1"], bool(a["head1x1"])))
                start += len(mixin)
            head: str | tuple[np.ndarray, np.ndarray] = p + "head_rechannel"
            if head not in self.chain.convs:
                weight = w[p + "head_rechannel.weight"]
                bias = w.get(p + "head_rechannel.bias")
                head = (np.ascontiguousarray(weight.T),
                        np.zeros(len(weight), dtype) if bias is None else bias[:, 0])
            arrays.append(_Array(np.ascontiguousarray(w[p + "rechannel.weight"].T), layers,
                                 a["channels"], head))
        self.arrays = arrays
        self.mix = np.concatenate(mixins)[None, None, :]  # (1, 1, sum of mid)
        self.scale = dtype.type(c["head_scale"])
        self.activation = None if c["head"] is None else c["head"]["activation"]
        self.head: list[str | tuple[np.ndarray, np.ndarray]] = []
        for k in range(0 if c["head"] is None else len(c["head"]["kernel_sizes"])):
            name = f"head.{k}"
            self.head.append(name if name in self.chain.convs else
                             (np.ascontiguousarray(w[name + ".weight"].T), w[name + ".bias"][:, 0]))
        self._plan: tuple[Any, Any, dict] = (None, None, {})  # (histories, shape, plan)

    def _conv(self, plan: dict, name: str, product: np.ndarray, residual: np.ndarray | None,
              mode: int) -> tuple[np.ndarray, np.ndarray]:
        """Store ``product`` (plus ``residual``) as fused conv ``name``'s input; return
        what was stored and the conv's output ``(B, m, C_out)``."""
        kernels = self.kernels
        conv, history, col = plan[name]
        stored = conv.store(kernels, history, product, residual, mode, col)
        out = conv.product(col)
        if isinstance(out, WinogradProducts):
            plain = np.empty(product.shape[:2] + (out.prods.shape[-1],), product.dtype)
            store_product(kernels, out, plain, kernels.COPY, plain, 0)
            out = plain
        return stored, out

    def run(self, histories: dict, x: np.ndarray) -> np.ndarray:
        """A chunk ``(B, 1, m)`` through the chain, ``histories`` updated."""
        kernels, (batch, _, m) = self.kernels, x.shape
        if self._plan[0] is not histories or self._plan[1] != (batch, m):
            blocks = self.chain.inputs_blocks(batch, m, x.dtype)
            self._plan = (histories, (batch, m), {
                name: (conv, histories[name], blocks[name])
                for name, conv in self.chain.convs.items()})
        plan = self._plan[2]
        audio = np.ascontiguousarray(x).reshape(batch, m, 1)  # one channel: time-major too
        mix = audio * self.mix  # every layer's mixin, (B, m, sum of mid)
        inputs, head = audio, None
        for a in self.arrays:
            product, residual, mode = np.matmul(inputs, a.rechannel), None, kernels.COPY
            acc = None if head is None else head.copy()
            for layer in a.layers:
                residual, z = self._conv(plan, layer.conv, product, residual, mode)
                z += mix[..., layer.mix]
                p = apply_layer(layer.activation, z)
                out = p if layer.out is None else pointwise_tm(layer.out, p)
                product = out[..., : a.channels] if layer.residual else p
                term = out[..., a.channels * layer.residual :] if layer.head else p
                if acc is None:
                    acc = term.copy()
                else:
                    acc += term
                mode = kernels.ADD
            inputs = residual + product  # the array's output (the next array's input)
            assert acc is not None  # an array has layers
            if isinstance(a.head, str):
                head = self._conv(plan, a.head, acc, None, kernels.COPY)[1]
            else:
                head = pointwise_tm(a.head, acc)
        assert head is not None
        y = head * self.scale
        for block in self.head:
            assert self.activation is not None
            y = apply(self.activation, y)
            if isinstance(block, str):
                y = self._conv(plan, block, y, None, kernels.COPY)[1]
            else:
                y = pointwise_tm(block, y)
        return y.reshape(batch, 1, m)


def ring_histories(ring: np.ndarray, time: int, layout: RingLayout) -> dict[str, np.ndarray]:
    """``{name}.history`` ``(B, C_in, span)`` of every conv, read from the rings."""
    return {f"{name}.history": ring[:, _positions(time - span, time, base, mask, width, room)]
            for name, (base, mask, span, width, room) in layout.items()}


def _positions(first: int, end: int, base: int, mask: int, width: int,
               room: int) -> np.ndarray:
    """The ring positions ``(C_in, end - first)`` of times ``first .. end - 1`` (the
    first copy; the second, of the first ``room`` positions, is ``mask + 1`` further)."""
    times = np.arange(first, end) & mask
    return base + np.arange(width)[:, None] * (mask + 1 + room) + times


def load_rings(ring: np.ndarray, time: int, layout: RingLayout,
               arrays: Mapping[str, Any]) -> None:
    """Write the histories in ``arrays`` (checked; absent ones left as they are) into the
    rings, as the last samples before ``time``."""
    batch, dtype = ring.shape[0], ring.dtype
    for name, (base, mask, span, width, room) in layout.items():
        key = f"{name}.history"
        if key in arrays:
            past = checked_history(arrays[key], key, dtype, (batch, width, span))
            at = _positions(time - past.shape[-1], time, base, mask, width, room)
            again = (at[0] - base) < room  # (the positions of channel 0)
            ring[:, at] = past
            ring[:, at[:, again] + mask + 1] = past[:, :, again]


def build_program(model: Any, w: dict[str, np.ndarray], dtype: np.dtype,
                  kernel: ModuleType, chunk: int) -> tuple[tuple, int, RingLayout]:
    """The compiled passes' arguments for ``model`` in ``dtype`` (``w``: its cast 1x1
    weights) and chunks of at most ``chunk`` samples: ``(w, acts, layers, arrays, head,
    scale, width)``, the rings' size, and per conv its ``(ring offset, mask, span, C_in,
    ROOM)``."""
    if chunk > kernel.ROOM:
        raise ValueError(f"chunks of up to {chunk} samples need a ROOM of as many; the "
                         f"kernel has {kernel.ROOM}")
    c, p = model.config, model.params
    flat: list[np.ndarray] = []
    size = [0, 0]  # [weights, ring]
    convs: RingLayout = {}

    def put(values: np.ndarray) -> int:
        flat.append(np.asarray(values, dtype).ravel())
        size[0] += flat[-1].size
        return size[0] - flat[-1].size

    def put_matrix(weight: np.ndarray) -> int:
        """A ``(C_out, C_in)`` matrix (or a conv's ``(C_out, C_in, K)``), input-major,
        rows padded to a multiple of ``kernel.LANES``."""
        if weight.ndim == 3:
            weight = weight.transpose(0, 2, 1).reshape(len(weight), -1)  # inputs k * C + c
        lanes = kernel.LANES
        padded = np.zeros((weight.shape[1], -(-len(weight) // lanes) * lanes))
        padded[:, : len(weight)] = weight.T
        return put(padded)

    def ring(name: str, span: int, width: int) -> tuple[int, int]:
        mask = (1 << int(span + chunk - 1).bit_length()) - 1  # 2^n >= span + chunk, less 1
        convs[name] = (size[1], mask, span, width, kernel.ROOM)
        size[1] += (mask + 1 + kernel.ROOM) * width
        return size[1] - (mask + 1 + kernel.ROOM) * width, mask

    layers: list[list[int]] = []
    arrays: list[list[int]] = []
    acts: list[list[list[float]]] = []
    widest = 2
    for i, a in enumerate(c["layer_arrays"]):
        ch, bot, first = a["channels"], a["bottleneck"], len(layers)
        for j, (k, d, act) in enumerate(zip(a["kernel_sizes"], a["dilations"], a["activations"])):
            q = f"arrays.{i}.layers.{j}."
            conv = p[q + "conv.weight"]  # (mid, C, K)
            base, mask = ring(q + "conv", (k - 1) * d, ch)
            outs = [n for n in (q + "layer1x1", q + "head1x1") if n + ".weight" in w]
            out = out_b = -1
            width = sum(len(w[n + ".weight"]) for n in outs)
            if outs:
                out = put_matrix(np.concatenate([w[n + ".weight"] for n in outs]))
                out_b = put(np.concatenate([w[n + ".bias"][:, 0] for n in outs]))
            secondary = act["secondary"] or act["primary"]
            layers.append([base, mask, (k - 1) * d, d, k, ch, len(conv), bot,
                           put_matrix(conv), put(p[q + "conv.bias"]),
                           put(p[q + "mixin.weight"]), kernel.GATINGS[act["gating"]],
                           kernel.CODES[act["primary"]["type"]],
                           kernel.CODES[secondary["type"]], out, out_b, width,
                           int(a["layer1x1"]), int(bool(a["head1x1"]))])
            acts.append([_params(act["primary"]), _params(secondary)])
            widest = max(widest, len(conv), ch, width, a["input_size"], (k * ch + 1) // 2)
        name = f"arrays.{i}.head_rechannel"
        weight, taps = p[name + ".weight"], a["head_kernel_size"]  # (out, in, K)
        base, mask = ring(name, taps - 1, weight.shape[1]) if taps > 1 else (0, 0)
        arrays.append([a["input_size"], ch, put_matrix(w[f"arrays.{i}.rechannel.weight"]),
                       first,
                       len(a["dilations"]), weight.shape[1], weight.shape[0], taps, base, mask,
                       put_matrix(weight),
                       put(p[name + ".bias"]) if name + ".bias" in p else -1])
        widest = max(widest, *weight.shape[:2], (taps * weight.shape[1] + 1) // 2)
    head_rows: list[list[int]] = []
    head = c["head"]
    for k, taps in enumerate([] if head is None else head["kernel_sizes"]):
        weight = p[f"head.{k}.weight"]
        base, mask = ring(f"head.{k}", taps - 1, weight.shape[1]) if taps > 1 else (0, 0)
        head_rows.append([weight.shape[1], weight.shape[0], taps, base, mask,
                          put_matrix(weight), put(p[f"head.{k}.bias"]),
                          kernel.CODES[head["activation"]["type"]]])
        widest = max(widest, *weight.shape[:2], (taps * weight.shape[1] + 1) // 2)
    acts.append([_params(head["activation"]) if head else [0.0] * 4, [0.0] * 4])
    table = partial(np.array, dtype=np.int64)
    program = (np.concatenate(flat), np.array(acts, dtype), table(layers),
               table(arrays), table(head_rows).reshape(-1, len(kernel.HEAD)),
               dtype.type(c["head_scale"]), 2 * widest + 2 + 2 * kernel.LANES)
    return program, size[1], convs


def _params(act: dict[str, Any]) -> list[float]:
    """An activation's parameters in the kernel's order (four, zero-padded)."""
    values = [value for key, value in act.items() if key != "type"]
    return (values + [0.0] * 4)[:4]
