"""Dilated causal stacks in numpy: TCN, WaveNet and a generic stack, offline and streaming.

The numpy twins of the torch modules in ``wavedil.nn`` (same architectures, same parameter
names, weight norm folded), built on ``DilatedConv1d`` / ``ConvStream``: train in torch,
``wavedil.nn.export`` the model, ``wavedil.modelfile.load`` it here, run it without torch.

- ``TCN``: residual blocks after Bai, Kolter & Koltun (2018), as in locuslab/TCN:
  ``relu(x' + relu(conv2(relu(conv1(x)))))`` with ``x'`` = ``x`` or a 1x1 projection
  (``downsample``) where the widths differ; an optional 1x1 ``head``.
- ``WaveNet``: after van den Oord et al. (2016): causal ``input_conv``; per layer a dilated
  conv to ``gate_channels``, plus optional global (per sequence) and local (audio-rate)
  conditioning projected by 1x1 convs, ``z = tanh(a) * sigmoid(b)`` on its two halves,
  1x1 ``skip`` and ``res`` projections; ``head2(relu(head1(relu(sum of skips))))``.
- ``Stack``: causal conv layers from a list of layer specs (channels, kernel, dilation,
  groups, activation, residual).

Every model is causal (latency 0): ``model(x)`` offline and ``model.stream(batch)``
chunk by chunk agree for any split (the streaming contract, DESIGN.md); the offline call
is a fresh stream, run in blocks of ``BLOCK`` samples so the activations stay in cache.
Each model's ``.spec`` is its spec tree (``wavedil.spec``) for receptive-field tooling.

Shape: ``(T,)``, ``(C_in, T)`` or ``(B, C_in, T)`` in, the same layout with ``C_out``
channels out (``(T,)`` stays ``(T,)`` when ``C_out == 1``). Weights are stored as given
and cast to the input's dtype (float32 stays float32, float64 stays float64).

>>> import numpy as np
>>> tcn = TCN(1, [8, 8], kernel_size=3, out_channels=1, seed=0)
>>> x = np.random.default_rng(0).standard_normal(100).astype(np.float32)
>>> s = tcn.stream()
>>> y = np.concatenate([s.process(x[:37]), s.process(x[37:]), s.flush()])
>>> bool(np.allclose(y, tcn(x), rtol=0, atol=1e-6)), tcn.receptive_field
(True, 13)
"""

from __future__ import annotations

import json
from functools import partial

import numpy as np
from scipy.special import erf

from ._checks import as_float_array, positive_int
from .conv import ConvStream, DilatedConv1d
from .spec import Branches, Chain, LayerSpec, dilation_schedule
from .stream import Stream, nested_state

BLOCK = 2048  # samples per internal block of a stream (offline calls run in these blocks)
ACTIVATIONS = ("identity", "relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu")
LEAKY_SLOPE = 0.01  # torch.nn.functional.leaky_relu's default
SQRT_HALF = 0.5**0.5  # a Python float: keeps float32 arrays float32


def activate(name: str, x: np.ndarray) -> np.ndarray:
    """Apply activation ``name`` (one of ``ACTIVATIONS``), in place where possible."""
    if name == "relu":
        return np.maximum(x, 0, out=x)
    if name == "identity":
        return x
    if name == "tanh":
        return np.tanh(x, out=x)
    if name == "sigmoid":
        return sigmoid(x, out=x)
    if name == "gelu":  # the exact (erf) form, torch's default
        return x * (0.5 * (1 + erf(x * SQRT_HALF)))
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    if name == "leaky_relu":
        return np.where(x > 0, x, x * x.dtype.type(LEAKY_SLOPE))
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {name!r}")


def sigmoid(x: np.ndarray, out=None) -> np.ndarray:
    """``1 / (1 + exp(-x))`` as ``0.5 + 0.5 tanh(x / 2)``: no overflow, SIMD-fast tanh."""
    y = np.multiply(x, 0.5, out=out)
    np.tanh(y, out=y)
    y *= 0.5
    y += 0.5
    return y


# -- plans shared with the torch modules ------------------------------------------------------

def tcn_plan(channels, dilations=None, stacks=1) -> tuple[list[int], list[int]]:
    """The per-block widths and dilations of a TCN.

    ``dilations`` (one stack) is repeated ``stacks`` times; without it, ``channels`` must be
    a list and each stack gets ``1, 2, 4, ...``. ``channels`` is one width for every block
    or one per block.

    >>> tcn_plan(16, [1, 2, 4], stacks=2)
    ([16, 16, 16, 16, 16, 16], [1, 2, 4, 1, 2, 4])
    >>> tcn_plan([8, 8, 16, 16], stacks=2)
    ([8, 8, 16, 16], [1, 2, 1, 2])
    """
    stacks = positive_int(stacks, "stacks")
    if dilations is None:
        if isinstance(channels, (int, np.integer)):
            raise ValueError(f"TCN needs channels as a list (one width per block) or a dilations "
                             f"list, got channels={channels} and dilations=None")
        blocks = len(channels)
        if blocks == 0 or blocks % stacks:
            raise ValueError(f"{blocks} channel widths cannot be split into {stacks} stacks")
        full = dilation_schedule(blocks // stacks, stacks=stacks)
    else:
        full = [positive_int(d, "dilation") for d in dilations] * stacks
        if not full:
            raise ValueError("dilations must list at least one dilation, got an empty list")
    if isinstance(channels, (int, np.integer)):
        widths = [positive_int(int(channels), "channels")] * len(full)
    else:
        widths = [positive_int(int(c), "channels") for c in channels]
    if len(widths) != len(full):
        raise ValueError(f"expected {len(full)} channel widths (one per block: "
                         f"{len(full) // stacks}"
                         f" dilations x {stacks} stacks), got {len(widths)}: {list(channels)}")
    return widths, full


def wavenet_plan(dilations=None, stacks=1) -> list[int]:
    """WaveNet dilations: ``dilations`` (default ``1, 2, ..., 512``) repeated ``stacks`` times."""
    stacks = positive_int(stacks, "stacks")
    if dilations is None:
        return dilation_schedule(10, stacks=stacks)
    full = [positive_int(d, "dilation") for d in dilations] * stacks
    if not full:
        raise ValueError("dilations must list at least one dilation, got an empty list")
    return full


def stack_plan(layers, in_channels=None, activation="relu") -> tuple[int, list[dict]]:
    """Normalise a generic stack's layer specs to ``(in_channels, [dict, ...])``.

    Each layer is a dict with ``channels`` (output width; required), ``kernel_size`` (1),
    ``dilation`` (1), ``groups`` (1), ``activation`` (the stack's default; None or
    ``"identity"`` for none) and ``residual`` (False: ``x + act(conv(x))`` if True), or a
    causal ``LayerSpec`` (its ``out_channels``, kernel, dilation, groups; the default
    activation). ``in_channels`` defaults to the first layer's ``in_channels``.
    """
    if isinstance(layers, (dict, LayerSpec)) or len(layers) == 0:
        raise ValueError(f"layers must be a non-empty list of layer specs, got {layers!r}")
    plan = []
    for i, layer in enumerate(layers):
        if isinstance(layer, LayerSpec):
            if layer.right != 0 or layer.stride != 1:
                raise ValueError(f"layer {i}: a stack layer must be causal with stride 1, got "
                                 f"extent ({layer.left}, {layer.right}), stride {layer.stride}")
            layer = {"in_channels": layer.in_channels, "channels": layer.out_channels,
                     "kernel_size": layer.kernel_size, "dilation": layer.dilation,
                     "groups": layer.groups}
        elif not isinstance(layer, dict):
            raise TypeError(f"layer {i} must be a dict or a LayerSpec, got {type(layer).__name__}")
        known = {"in_channels", "channels", "kernel_size", "dilation", "groups", "activation",
                 "residual"}
        if set(layer) - known or "channels" not in layer:
            raise ValueError(f"layer {i}: expected keys 'channels' and optionally "
                             f"{sorted(known - {'channels'})}, got {sorted(layer)}")
        act = layer.get("activation", activation)
        act = "identity" if act is None else act
        if act not in ACTIVATIONS:
            raise ValueError(f"layer {i}: activation must be one of {ACTIVATIONS}, got {act!r}")
        entry = {"channels": positive_int(layer["channels"], "channels"),
                 "kernel_size": positive_int(layer.get("kernel_size", 1), "kernel_size"),
                 "dilation": positive_int(layer.get("dilation", 1), "dilation"),
                 "groups": positive_int(layer.get("groups", 1), "groups"),
                 "activation": act, "residual": bool(layer.get("residual", False))}
        previous = plan[-1]["channels"] if plan else in_channels
        given = layer.get("in_channels")
        if previous is None:
            previous = given
            if previous is None:
                raise ValueError("in_channels is needed: give it or set it on the first layer")
        elif given is not None and given != previous:
            raise ValueError(f"layer {i}: expected {previous} input channels, got in_channels="
                             f"{given}")
        if previous % entry["groups"] or entry["channels"] % entry["groups"]:
            raise ValueError(f"layer {i}: groups = {entry['groups']} must divide the input "
                             f"({previous}) and output ({entry['channels']}) channels")
        if entry["residual"] and entry["channels"] != previous:
            raise ValueError(f"layer {i}: a residual layer keeps its width, expected channels = "
                             f"{previous}, got {entry['channels']}")
        if in_channels is None and not plan:
            in_channels = previous
        plan.append(entry)
    return positive_int(int(in_channels), "in_channels"), plan


# -- the shared model machinery --------------------------------------------------------------

class _Model:
    """Parameters, checks, dtype casts and the offline call shared by the numpy models."""

    architecture = ""

    def __init__(self, config: dict, params, seed):
        self.config = config
        shapes = self.param_shapes()
        if params is None:
            params = _init_params(shapes, np.random.default_rng(seed))
        self.params = _check_params(params, shapes)
        self._casts: dict = {}
        self._convs = {name: DilatedConv1d(self.params[name + ".weight"],
                                           self.params.get(name + ".bias"), dilation, groups)
                       for name, (dilation, groups) in self._dilated().items()}

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape (PyTorch layout), as in the torch twin."""
        raise NotImplementedError

    def _dilated(self) -> dict[str, tuple[int, int]]:
        """The convs run as streams (kernel > 1 or groups): name -> (dilation, groups)."""
        raise NotImplementedError

    @property
    def spec(self):
        """The spec tree (``Chain``/``Branches`` of ``LayerSpec``) of the audio input path."""
        return self.spec_of(self.config)

    @classmethod
    def spec_of(cls, config: dict):
        """The spec tree of a model with this (resolved) ``config``; the torch twins use it."""
        raise NotImplementedError

    @property
    def receptive_field(self) -> int:
        """Input samples each output sees: ``1 + sum of (K - 1) * dilation`` on the longest path."""
        return 1 + _past_extent(self.spec)

    def __call__(self, x, **cond) -> np.ndarray:
        """Offline: the whole signal (a fresh stream plus its flush)."""
        stream = self.stream()
        y = stream.process(x, **cond)
        stream.flush()  # causal: nothing held back
        return y

    def stream(self, batch=None):
        raise NotImplementedError

    def save(self, path):
        """Write this model to a ``.npz`` model file (see ``wavedil.modelfile``)."""
        from .modelfile import save_model

        return save_model(path, self.architecture, self.config, self.params)

    def __repr__(self) -> str:
        return f"{self.architecture}({json.dumps(self.config)})"

    def _cast(self, dtype) -> dict:
        """Weights in ``dtype``: im2col matrices ``(C_out, C_in * K)``, bias columns."""
        dtype = np.dtype(dtype)
        if dtype not in self._casts:
            cast = {}
            for name, value in self.params.items():
                value = value.astype(dtype)
                if name.endswith(".bias"):
                    value = value[:, None]
                else:  # (C_out, C_in * K): column c * K + t is tap t of input channel c
                    value = value.reshape(value.shape[0], -1)
                cast[name] = np.ascontiguousarray(value)
            self._casts[dtype] = cast
        return self._casts[dtype]


def _init_params(shapes, rng) -> dict[str, np.ndarray]:
    """torch.nn.Conv1d's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    params, fan_in = {}, {}
    for name, shape in shapes.items():
        if name.endswith(".weight"):
            fan_in[name[:-7]] = shape[1] * shape[2]
        bound = 1 / np.sqrt(fan_in[name.rsplit(".", 1)[0]])
        params[name] = rng.uniform(-bound, bound, shape)
    return params


def _check_params(params, shapes) -> dict[str, np.ndarray]:
    missing = [n for n in shapes if n not in params]
    if missing:
        raise ValueError("missing parameter array(s): "
                         + ", ".join(f"'{n}' (expected shape {shapes[n]})" for n in missing))
    extra = sorted(set(params) - set(shapes))
    if extra:
        raise ValueError(f"unexpected parameter array(s) for this configuration: {extra}")
    checked = {}
    for name, shape in shapes.items():
        value = as_float_array(params[name], name)
        if value.shape != tuple(shape):
            raise ValueError(f"parameter '{name}' has shape {value.shape}, expected {tuple(shape)}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"parameter '{name}' has non-finite values")
        checked[name] = value
    return checked


def _conv_spec(name: str, in_channels: int, out_channels: int, kernel_size=1, dilation=1,
               groups=1) -> LayerSpec:
    return LayerSpec(kernel_size=kernel_size, dilation=dilation, in_channels=in_channels,
                     out_channels=out_channels, groups=groups, name=name)


def _past_extent(tree) -> int:
    if isinstance(tree, LayerSpec):
        return tree.left
    if isinstance(tree, Chain):
        return sum(_past_extent(p) for p in tree.parts)
    return max((_past_extent(p) for p in tree.parts), default=0)


def _pointwise(w: np.ndarray, b, x: np.ndarray) -> np.ndarray:
    y = np.matmul(w, x)
    if b is not None:
        y += b
    return y


class _ConvStep(ConvStream):
    """A model's causal conv layer as a stream; ``_process`` does one im2col matmul.

    The im2col matrix ``(B, C_in * K, m)`` is gathered with one ``take`` for short chunks
    (fewer numpy calls) and with ``K`` slice copies for long ones (faster copies).
    """

    GATHER_MAX = 16  # chunks up to this length use the one-call gather

    def __init__(self, layer: DilatedConv1d):
        super().__init__(layer, None)
        self.w = self.b = None  # set by the model stream for its dtype
        self._index = {}  # chunk length -> (K, m) gather index

    def _process(self, x: np.ndarray) -> np.ndarray:
        if self._history is None:
            if x.shape[-1] == 0:
                return np.zeros((x.shape[0], self.out_channels, 0), x.dtype)
            self._start(x)
        window = self._history.append(x)
        layer = self.layer
        if layer.groups != 1:
            return layer.correlate_valid(window)
        batch, channels, m = x.shape
        taps, d = layer.kernel_size, layer.dilation
        if m <= self.GATHER_MAX:
            index = self._index.get(m)
            if index is None:  # tap t of output j reads sample t * d + j of the window
                index = self._index[m] = (np.arange(0, taps * d, d)[:, None]
                                          + np.arange(m)).ravel()
            if batch == 1:  # 2-D: the cheapest calls for the smallest chunks
                y = np.dot(self.w, window[0].take(index, axis=1).reshape(channels * taps, m))
                if self.b is not None:
                    y += self.b
                return y[None]
            col = window.take(index, axis=2)
        else:
            col = np.empty((batch, channels, taps, m), x.dtype)
            for t in range(taps):
                col[:, :, t] = window[:, :, t * d : t * d + m]
        y = np.matmul(self.w, col.reshape(batch, channels * taps, m))
        if self.b is not None:
            y += self.b
        return y


class _ModelStream(Stream):
    """A model's stream: its conv steps, weights cast for the dtype, blocks of ``BLOCK``."""

    def __init__(self, model: _Model, batch=None):
        super().__init__(model.in_channels, model.out_channels, 0, batch)
        self.model = model
        self.steps = {name: _ConvStep(conv) for name, conv in model._convs.items()}
        self.w = None

    def _config(self) -> dict:
        return {"op": self.model.architecture, **self.model.config}

    def _prepare(self, dtype) -> None:
        """Bind every conv to one callable on ``(B, C, m)`` blocks of this dtype."""
        if self.w is None or self._dtype != dtype:
            self.w, self._dtype = self.model._cast(dtype), dtype
            self.ops = {}
            for name in self.model.params:
                if name.endswith(".weight"):
                    name = name[: -len(".weight")]
                    weight, bias = self.w[name + ".weight"], self.w.get(name + ".bias")
                    step = self.steps.get(name)
                    if step is None:  # 1x1: a matmul, nothing to remember
                        self.ops[name] = partial(_pointwise, weight, bias)
                    else:
                        step.w, step.b = weight, bias
                        self.ops[name] = step._process
            self._bind()

    def _bind(self) -> None:
        """Subclasses look up their per-layer callables here, once per dtype."""

    def _process(self, x: np.ndarray, **cond) -> np.ndarray:
        self._prepare(x.dtype)
        n = x.shape[-1]
        if n <= BLOCK:
            return self._run(x, **cond)
        parts = []
        for i in range(0, n, BLOCK):
            sliced = {k: (v[..., i : i + BLOCK] if k == "local_cond" else v)
                      for k, v in cond.items()}
            parts.append(self._run(x[..., i : i + BLOCK], **sliced))
        return np.concatenate(parts, axis=-1)

    def _run(self, x: np.ndarray, **cond) -> np.ndarray:
        raise NotImplementedError

    def _flush(self) -> np.ndarray:
        return np.zeros((self._layout[1], self.out_channels, 0), self._layout[2])

    def _state(self) -> dict[str, np.ndarray]:
        return nested_state(self.steps.items())

    def _load(self, state, batch: int, dtype: np.dtype) -> None:
        self._prepare(dtype)
        for name, step in self.steps.items():
            key = f"{name}.history"
            step._load({"history": state[key]} if key in state else {}, batch, dtype)

    def _reset(self) -> None:
        for step in self.steps.values():
            step._reset()


# -- TCN ---------------------------------------------------------------------------------------

class TCN(_Model):
    """Temporal convolutional network (Bai, Kolter & Koltun 2018), inference in numpy.

    Args:
        in_channels: input channels.
        channels: one width for every block, or a list of one width per block.
        kernel_size: taps of each dilated conv (two per block).
        dilations: dilations of one stack (default ``1, 2, 4, ...``, one per block).
        stacks: repeats of ``dilations``.
        out_channels: width of an optional 1x1 ``head`` after the last block (None: no head).
        params: ``{name: array}`` as written by ``wavedil.nn.export`` (None: random, ``seed``).

    Parameters: ``blocks.{i}.conv1/conv2.weight/bias``, ``blocks.{i}.downsample.weight/bias``
    (where the width changes), ``head.weight/bias``.
    """

    architecture = "TCN"

    def __init__(self, in_channels, channels, kernel_size=3, dilations=None, stacks=1,
                 out_channels=None, *, params=None, seed=0):
        widths, full = tcn_plan(channels, dilations, stacks)
        config = {"in_channels": positive_int(in_channels, "in_channels"), "channels": widths,
                  "kernel_size": positive_int(kernel_size, "kernel_size"), "dilations": full,
                  "out_channels": None if out_channels is None else
                  positive_int(out_channels, "out_channels")}
        super().__init__(config, params, seed)

    @staticmethod
    def _widths(c):
        return list(zip([c["in_channels"]] + c["channels"][:-1], c["channels"]))

    def param_shapes(self):
        k, shapes = self.config["kernel_size"], {}
        for i, (c_in, c_out) in enumerate(self._widths(self.config)):
            shapes.update({f"blocks.{i}.conv1.weight": (c_out, c_in, k),
                           f"blocks.{i}.conv1.bias": (c_out,),
                           f"blocks.{i}.conv2.weight": (c_out, c_out, k),
                           f"blocks.{i}.conv2.bias": (c_out,)})
            if c_in != c_out:
                shapes.update({f"blocks.{i}.downsample.weight": (c_out, c_in, 1),
                               f"blocks.{i}.downsample.bias": (c_out,)})
        if self.config["out_channels"] is not None:
            c_out = self.config["channels"][-1]
            shapes.update({"head.weight": (self.config["out_channels"], c_out, 1),
                           "head.bias": (self.config["out_channels"],)})
        return shapes

    def _dilated(self):
        if self.config["kernel_size"] == 1:
            return {}
        return {f"blocks.{i}.conv{j}": (d, 1) for i, d in enumerate(self.config["dilations"])
                for j in (1, 2)}

    @property
    def in_channels(self) -> int:
        return self.config["in_channels"]

    @property
    def out_channels(self) -> int:
        return self.config["out_channels"] or self.config["channels"][-1]

    @classmethod
    def spec_of(cls, config):
        k, parts = config["kernel_size"], []
        for i, ((c_in, c_out), d) in enumerate(zip(cls._widths(config), config["dilations"])):
            body = Chain((_conv_spec(f"blocks.{i}.conv1", c_in, c_out, k, d),
                          _conv_spec(f"blocks.{i}.conv2", c_out, c_out, k, d)))
            skip = Chain(()) if c_in == c_out else \
                _conv_spec(f"blocks.{i}.downsample", c_in, c_out)
            parts.append(Branches((skip, body)))
        if config["out_channels"] is not None:
            parts.append(_conv_spec("head", config["channels"][-1], config["out_channels"]))
        return Chain(tuple(parts))

    def stream(self, batch=None) -> TCNStream:
        """A fresh stream (latency 0); ``batch`` fixes the batch size of 3-D chunks."""
        return TCNStream(self, batch)


class TCNStream(_ModelStream):
    """Stream of a numpy ``TCN``."""

    def _bind(self):
        ops, blocks = self.ops, len(self.model.config["dilations"])
        self._blocks = [(ops[f"blocks.{i}.conv1"], ops[f"blocks.{i}.conv2"],
                         ops.get(f"blocks.{i}.downsample")) for i in range(blocks)]
        self._head = ops.get("head")

    def _run(self, x):
        for conv1, conv2, downsample in self._blocks:
            h = conv1(x)
            np.maximum(h, 0, out=h)
            h = conv2(h)
            np.maximum(h, 0, out=h)
            h += x if downsample is None else downsample(x)
            x = np.maximum(h, 0, out=h)
        return x if self._head is None else self._head(x)


# -- WaveNet -----------------------------------------------------------------------------------

class WaveNet(_Model):
    """WaveNet (van den Oord et al. 2016) with optional global and local conditioning.

    Args:
        in_channels, residual_channels, gate_channels (even: tanh half, sigmoid half),
        skip_channels, out_channels (default ``in_channels``): the widths.
        kernel_size: taps of each gated dilated conv; ``input_kernel_size`` (default
            ``kernel_size``) of the causal input conv.
        dilations: one stack (default ``1, 2, ..., 512``), repeated ``stacks`` times.
        global_cond_channels: width of a per-sequence vector ``(B, C_gc)`` (0: none).
        local_cond_channels: width of an audio-rate signal ``(B, C_lc, T)`` (0: none).
        params, seed: as for ``TCN``.

    Parameters: ``input_conv``, ``layers.{i}.conv``, ``layers.{i}.global_cond`` and
    ``layers.{i}.local_cond`` (1x1, no bias), ``layers.{i}.skip``, ``layers.{i}.res`` (not
    on the last layer, whose residual output is unused), ``head1``, ``head2``.

    Call ``model(x, global_cond=g, local_cond=c)``; a stream takes the same keywords per
    chunk, with ``local_cond`` covering the chunk's samples. ``g`` is ``(C_gc,)`` or
    ``(B, C_gc)``; ``c`` has the layout of ``x``: ``(C_lc, T)`` or ``(B, C_lc, T)``.
    """

    architecture = "WaveNet"

    def __init__(self, in_channels=1, residual_channels=64, gate_channels=128, skip_channels=64,
                 out_channels=None, kernel_size=2, dilations=None, stacks=1,
                 global_cond_channels=0, local_cond_channels=0, input_kernel_size=None, *,
                 params=None, seed=0):
        in_channels = positive_int(in_channels, "in_channels")
        gate = positive_int(gate_channels, "gate_channels")
        if gate % 2:
            raise ValueError(f"gate_channels must be even (tanh and sigmoid halves), got {gate}")
        for value, name in ((global_cond_channels, "global_cond_channels"),
                            (local_cond_channels, "local_cond_channels")):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        kernel_size = positive_int(kernel_size, "kernel_size")
        config = {"in_channels": in_channels,
                  "residual_channels": positive_int(residual_channels, "residual_channels"),
                  "gate_channels": gate,
                  "skip_channels": positive_int(skip_channels, "skip_channels"),
                  "out_channels": in_channels if out_channels is None else
                  positive_int(out_channels, "out_channels"),
                  "kernel_size": kernel_size,
                  "input_kernel_size": kernel_size if input_kernel_size is None else
                  positive_int(input_kernel_size, "input_kernel_size"),
                  "dilations": wavenet_plan(dilations, stacks),
                  "global_cond_channels": int(global_cond_channels),
                  "local_cond_channels": int(local_cond_channels)}
        super().__init__(config, params, seed)
        self.in_channels, self.out_channels = in_channels, config["out_channels"]

    def param_shapes(self):
        c = self.config
        r, g, s, half = (c["residual_channels"], c["gate_channels"], c["skip_channels"],
                         c["gate_channels"] // 2)
        shapes = {"input_conv.weight": (r, c["in_channels"], c["input_kernel_size"]),
                  "input_conv.bias": (r,)}
        layers = len(c["dilations"])
        for i in range(layers):
            p = f"layers.{i}."
            shapes.update({p + "conv.weight": (g, r, c["kernel_size"]), p + "conv.bias": (g,)})
            if c["global_cond_channels"]:
                shapes[p + "global_cond.weight"] = (g, c["global_cond_channels"], 1)
            if c["local_cond_channels"]:
                shapes[p + "local_cond.weight"] = (g, c["local_cond_channels"], 1)
            shapes.update({p + "skip.weight": (s, half, 1), p + "skip.bias": (s,)})
            if i < layers - 1:
                shapes.update({p + "res.weight": (r, half, 1), p + "res.bias": (r,)})
        shapes.update({"head1.weight": (s, s, 1), "head1.bias": (s,),
                       "head2.weight": (c["out_channels"], s, 1),
                       "head2.bias": (c["out_channels"],)})
        return shapes

    def _dilated(self):
        c = self.config
        convs = {"input_conv": (1, 1)} if c["input_kernel_size"] > 1 else {}
        if c["kernel_size"] > 1:
            convs.update({f"layers.{i}.conv": (d, 1) for i, d in enumerate(c["dilations"])})
        return convs

    @classmethod
    def spec_of(cls, c):
        r, g, s = c["residual_channels"], c["gate_channels"], c["skip_channels"]
        k = c["kernel_size"]
        prefixes, residual = [], []
        for i, d in enumerate(c["dilations"]):
            gate = _conv_spec(f"layers.{i}.conv", r, g, k, d)
            prefixes.append(Chain(tuple(residual) + (
                gate, _conv_spec(f"layers.{i}.skip", g // 2, s))))
            body = Chain((gate, _conv_spec(f"layers.{i}.res", g // 2, r)))
            residual.append(Branches((Chain(()), body)))
        return Chain((
            _conv_spec("input_conv", c["in_channels"], r, c["input_kernel_size"]),
            Branches(tuple(prefixes)),
            _conv_spec("head1", s, s), _conv_spec("head2", s, c["out_channels"])))

    def __call__(self, x, global_cond=None, local_cond=None) -> np.ndarray:
        """Offline: the whole signal, with its conditioning (see the class docstring)."""
        return super().__call__(x, global_cond=global_cond, local_cond=local_cond)

    def stream(self, batch=None) -> WaveNetStream:
        """A fresh stream (latency 0); ``process(chunk, global_cond=, local_cond=)``."""
        return WaveNetStream(self, batch)


class WaveNetStream(_ModelStream):
    """Stream of a numpy ``WaveNet``; conditioning arrives with each chunk."""

    def __init__(self, model: WaveNet, batch=None):
        super().__init__(model, batch)
        self._layers = len(model.config["dilations"])

    def process(self, chunk, global_cond=None, local_cond=None) -> np.ndarray:
        """Feed ``chunk`` and its conditioning; return the output for the chunk."""
        if self._flushed:
            raise ValueError("this stream was flushed; call reset() before processing more")
        layout = self._layout
        x = self._accept(chunk)
        try:
            cond = self._check_cond(x, global_cond, local_cond)
        except (TypeError, ValueError):
            self._layout = layout  # a rejected chunk leaves the stream untouched
            raise
        return self._restore(self._process(x, **cond))

    def _check_cond(self, x, global_cond, local_cond) -> dict:
        c, (ndim, batch) = self.model.config, self._layout[:2]
        cond = {}
        for value, name, width in ((global_cond, "global_cond", c["global_cond_channels"]),
                                   (local_cond, "local_cond", c["local_cond_channels"])):
            if not width:
                if value is not None:
                    raise ValueError(f"this WaveNet has no {name} (0 channels), got one")
                continue
            if value is None:
                raise ValueError(f"this WaveNet needs {name} with {width} channels, got None")
            v = np.asarray(as_float_array(value, name), x.dtype)
            if name == "global_cond":
                want = (batch, width) if ndim == 3 else (width,)
                if v.shape != want:
                    raise ValueError(f"expected global_cond of shape {want}, got {v.shape}")
                cond[name] = v.reshape(batch, width, 1)
            else:
                want = (batch, width, x.shape[-1]) if ndim == 3 else (width, x.shape[-1])
                if v.shape != want:
                    raise ValueError(f"expected local_cond of shape {want} (the chunk's "
                                     f"{x.shape[-1]} samples), got {v.shape}")
                cond[name] = v.reshape(batch, width, x.shape[-1])
        return cond

    def _bind(self):
        w, ops, layers = self.w, self.ops, self._layers
        for kind in ("global_cond", "local_cond"):  # every layer's projection in one matrix
            ws = [w.get(f"layers.{i}.{kind}.weight") for i in range(layers)]
            setattr(self, "_" + kind, None if ws[0] is None else np.concatenate(ws))
        self._gated = []  # per layer: the gate conv, and skip + res 1x1 convs as one matmul
        for i in range(layers):
            names = [f"layers.{i}.skip"] + ([f"layers.{i}.res"] if i < layers - 1 else [])
            outputs = partial(_pointwise, np.concatenate([w[n + ".weight"] for n in names]),
                              np.concatenate([w[n + ".bias"] for n in names]))
            self._gated.append((ops[f"layers.{i}.conv"], outputs))

    def _run(self, x, global_cond=None, local_cond=None):
        c, ops = self.model.config, self.ops
        gate_width, skip_width = c["gate_channels"], c["skip_channels"]
        half = gate_width // 2
        h = ops["input_conv"](x)
        cond = None  # every layer's conditioning, (B, layers * gate, m) or (B, ..., 1)
        if global_cond is not None:
            cond = np.matmul(self._global_cond, global_cond)
        if local_cond is not None:
            lc = np.matmul(self._local_cond, local_cond)
            cond = lc if cond is None else lc + cond
        skips = None
        for i, (gate, outputs) in enumerate(self._gated):
            a = gate(h)
            if cond is not None:
                a += cond[:, i * gate_width : (i + 1) * gate_width]
            z = np.tanh(a[:, :half])
            z *= sigmoid(a[:, half:], out=a[:, half:])
            out = outputs(z)  # (B, skip (+ residual), m)
            if skips is None:
                skips = out[:, :skip_width]
            else:
                skips += out[:, :skip_width]
            if i < self._layers - 1:
                h += out[:, skip_width:]
        np.maximum(skips, 0, out=skips)
        y = ops["head1"](skips)
        np.maximum(y, 0, out=y)
        return ops["head2"](y)


# -- generic stack ---------------------------------------------------------------------------

class Stack(_Model):
    """Causal conv layers from a list of layer specs (see ``stack_plan``).

    Layer ``i`` computes ``act(conv(x))`` (or ``x + act(conv(x))`` when residual);
    parameters ``layers.{i}.weight`` ``(C_out, C_in // groups, K)`` and ``layers.{i}.bias``.

    >>> Stack([{"channels": 4, "kernel_size": 3, "dilation": 2},
    ...        {"channels": 1, "activation": None}], in_channels=1).receptive_field
    5
    """

    architecture = "Stack"

    def __init__(self, layers, in_channels=None, activation="relu", *, params=None, seed=0):
        in_channels, plan = stack_plan(layers, in_channels, activation)
        super().__init__({"in_channels": in_channels, "layers": plan}, params, seed)
        self.in_channels, self.out_channels = in_channels, plan[-1]["channels"]

    @staticmethod
    def _widths(c):
        widths = [c["in_channels"]] + [lay["channels"] for lay in c["layers"]]
        return list(zip(widths[:-1], widths[1:]))

    def param_shapes(self):
        shapes = {}
        for i, ((c_in, c_out), lay) in enumerate(zip(self._widths(self.config),
                                                     self.config["layers"])):
            shapes[f"layers.{i}.weight"] = (c_out, c_in // lay["groups"], lay["kernel_size"])
            shapes[f"layers.{i}.bias"] = (c_out,)
        return shapes

    def _dilated(self):
        return {f"layers.{i}": (lay["dilation"], lay["groups"])
                for i, lay in enumerate(self.config["layers"])
                if lay["kernel_size"] > 1 or lay["groups"] > 1}

    @classmethod
    def spec_of(cls, config):
        parts = []
        for i, ((c_in, c_out), lay) in enumerate(zip(cls._widths(config), config["layers"])):
            conv = _conv_spec(f"layers.{i}", c_in, c_out, lay["kernel_size"],
                                   lay["dilation"], lay["groups"])
            parts.append(Branches((Chain(()), conv)) if lay["residual"] else conv)
        return Chain(tuple(parts))

    def stream(self, batch=None) -> StackStream:
        """A fresh stream (latency 0)."""
        return StackStream(self, batch)


class StackStream(_ModelStream):
    """Stream of a numpy ``Stack``."""

    def _bind(self):
        self._layers = [(self.ops[f"layers.{i}"], lay["activation"], lay["residual"])
                        for i, lay in enumerate(self.model.config["layers"])]

    def _run(self, x):
        for conv, activation, residual in self._layers:
            h = activate(activation, conv(x))
            x = x + h if residual else h
        return x
