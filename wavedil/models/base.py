"""The machinery shared by the numpy models (``TCN``, ``WaveNet``, ``Stack``).

The numpy twins of the torch modules in ``wavedil.nn`` (same architectures, same parameter
names, weight norm folded), built on ``DilatedConv1d`` / ``ConvStream``: train in torch,
``wavedil.nn.export`` the model, ``wavedil.models.loader.load`` it here, run it without torch.
This module holds what they share: ``Model`` (parameters, checks, dtype casts, the offline
call) and ``ModelStream`` (the state protocol of a model's stream and its blocks).

Two runtimes serve one semantics, kept equal by the tests against the torch twins: a TCN
or WaveNet with dilated gate convs runs the fused, time-major chain
(``wavedil.engine.fused``; a TCN's short chunks the compiled step over the same histories,
``wavedil.engine.blocks``), whose histories live in the stream's ``ModelState``; any other
model (kernel size 1, ``Stack``) runs each dilated conv as an engine ``ConvStream``, a named
child of the stream, and each 1x1 conv as a matrix product. Either way a state exports
``{conv name}.history`` arrays ``(B, C_in, n)`` in the engine's channel-major layout, so a
saved state does not depend on the runtime.

A model is causal (latency 0) unless its ``alignment`` gives its convs lookahead
(``wavedil.models.alignment``): then its stream holds back ``latency`` samples (the spec
tree's future extent), each conv with lookahead runs as an engine ``ConvStream`` (the
Python runtime) and the branches wait in delay lines (``ModelState.delays``, saved as
``{name}.history``); ``flush`` runs the model once more on no input, each conv and delay
line giving out what it held back. Either way ``model(x)`` offline and
``model.stream(batch)`` chunk by chunk agree for any split (the streaming contract,
DESIGN.md); the offline call is a fresh stream and its flush (split over threads by batch
rows or in time, ``wavedil.models.parallel``), run in blocks of ``BLOCK`` samples so the
activations stay in cache. Each model's ``.spec`` is its spec tree
(``wavedil.engine.spec``) for receptive-field tooling.

Shape: ``(T,)``, ``(C_in, T)`` or ``(B, C_in, T)`` in, the same layout with ``C_out``
channels out (``(T,)`` stays ``(T,)`` when ``C_out == 1``). Weights are stored as given
and cast to the input's dtype (float32 stays float32, float64 stays float64).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Hashable, TypeVar

import numpy as np
import numpy.typing as npt

from ..engine.checks import as_float_array
from ..engine.conv import ConvStream, DilatedConv1d, checked_history
from ..engine.fused import FusedChain
from ..engine.history import DelayLine, History
from ..engine.params import check_budget, memory_budget
from ..engine.spec import Branches, Chain, LayerSpec
from ..engine.state import ArraySpec, check_fill, check_together, fill_table, history_spec
from ..engine.stream import Layout, Stream
from ..receptive.field import future_extent, past_extent, short_tuple
from .file import save_model
from .parallel import cut_in_time, run_offline

BLOCK = 2048  # samples per internal block of a stream (offline calls run in these blocks)
T = TypeVar("T")


class Model:
    """Parameters, checks, dtype casts and the offline call shared by the numpy models
    (one place, so the three architectures cannot drift apart)."""

    architecture = ""
    OPTIONS_V2: tuple[str, ...] = ("alignment",)  # config keys a version-1 reader lacks

    def __init__(self, config: dict[str, Any], params: Mapping[str, npt.ArrayLike] | None
                 | Callable[[dict[str, tuple[int, ...]]], Mapping[str, npt.ArrayLike]],
                 seed: int | None) -> None:
        """``params``: ``{name: array}``, None (random, from ``seed``), or a function of
        ``{name: shape}`` that returns them (``wavedil.load`` checks each file member
        against its shape before it reads it)."""
        self.config = config
        shapes = self.param_shapes()
        if params is None:  # (given ones exist already; a file's are capped by its reader)
            _check_size(self.architecture, config, shapes)
            params = _init_params(shapes, np.random.default_rng(seed))
        elif callable(params):
            params = params(shapes)
        self.params = _check_params(params, shapes)
        self._casts: dict = {}
        self._shared: dict = {}  # ``shared``: runtimes every stream of this model reads
        extents = self.extents
        self.dilated_convs = {name: DilatedConv1d(self.params[name + ".weight"],
                                                  self.params.get(name + ".bias"), dilation,
                                                  groups, extents.get(name, "causal"))
                              for name, (dilation, groups) in self._dilated().items()}

    @property
    def in_channels(self) -> int:
        """C_in: the channels of the input ``(B, C_in, T)``."""
        return self.config["in_channels"]

    @property
    def out_channels(self) -> int:
        raise NotImplementedError

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape (PyTorch layout), as in the torch twin."""
        raise NotImplementedError

    def _dilated(self) -> dict[str, tuple[int, int]]:
        """The convs with taps or groups (``dilated_convs``): name -> (dilation, groups)."""
        raise NotImplementedError

    def history_copies(self) -> int:
        """How many copies of each dilated conv's history a stream of this model may hold
        (``check_run_buffers`` counts them all)."""
        return 1

    @property
    def spec(self) -> Chain:
        """The spec tree (``Chain``/``Branches`` of ``LayerSpec``) of the audio input path
        (made once: every stream reads the latency from it)."""
        return self.shared("spec", lambda: self.spec_of(self.config))

    @classmethod
    def spec_of(cls, config: dict[str, Any]) -> Chain:
        """The spec tree of a model with this (resolved) ``config``; the torch twins use it."""
        raise NotImplementedError

    @property
    def extents(self) -> dict[str, tuple[int, int]]:
        """Every conv's ``(left, right)`` extent, by name (from the spec tree)."""
        return {name: (layer.left, layer.right)  # type: ignore[misc]  # left is set
                for name, layer in spec_layers(self.spec).items()}

    @property
    def receptive_field(self) -> int:
        """Input samples each output sees: ``1 + past + lookahead``; causal, ``1 + sum of
        (K - 1) * dilation`` on the longest path."""
        spec = self.spec
        return 1 + past_extent(spec) + future_extent(spec)

    @property
    def latency(self) -> int:
        """Samples of lookahead: what a stream holds back (0 for a causal model)."""
        return self.shared("latency", lambda: future_extent(self.spec))

    @property
    def format_version(self) -> int:
        """The model-file version this config needs (``wavedil.models.file``): 2 if it uses
        an option added in version 2 (``OPTIONS_V2``), else 1 (older readers read it)."""
        return 2 if set(self.config) & set(self.OPTIONS_V2) else 1

    def delays(self) -> dict[str, tuple[int, int]]:
        """The delay lines of a stream: name -> ``(channels, samples)`` (none if causal)."""
        return {}

    def __call__(self, x: npt.ArrayLike, *, workers: int | None = None) -> np.ndarray:
        """Offline: the whole signal, as a fresh stream plus its flush would give it.

        Split over ``workers`` threads (default: numpy's BLAS thread count;
        ``wavedil.models.parallel``): a batch by rows, a long signal in time (each stretch a fresh
        stream warmed up on the ``receptive_field - 1`` samples before it).
        """
        return run_offline(self, x, {}, workers)

    def stream(self, batch: int | None = None) -> ModelStream:
        raise NotImplementedError

    def save(self, path: str | os.PathLike) -> str:
        """Write this model to a ``.npz`` model file (see ``wavedil.models.file``)."""
        return save_model(path, self.architecture, self.config, self.params,
                          self.format_version)

    def __repr__(self) -> str:
        def short(value: Any) -> str:
            if isinstance(value, list) and len(value) > 7:
                return short_tuple(value)
            return repr(value)
        options = ", ".join(f"{k}={short(v)}" for k, v in self.config.items())
        return f"{self.architecture}({options})"

    def shared(self, key: Hashable, build: Callable[[], T]) -> T:
        """``build()``, made once per ``key`` and kept: read-only runtime data that every
        stream of this model shares (weights laid out per dtype), never a stream's state.
        A stream is made per offline call, so building it each time would cost every call
        (milliseconds for a TCN's Winograd weights)."""
        if key not in self._shared:
            self._shared[key] = build()
        return self._shared[key]

    def _cast(self, dtype: npt.DTypeLike) -> dict[str, np.ndarray]:
        """The 1x1 convs' weights in ``dtype``: ``(C_out, C_in)`` matrices, bias columns.

        The dilated convs are ``DilatedConv1d`` layers, which cast their own weights.
        """
        dtype = np.dtype(dtype)
        if dtype not in self._casts:
            cast = {}
            for name, value in self.params.items():  # 1x1 convs, and norms' (C,) vectors
                if name.rsplit(".", 1)[0] in self.dilated_convs:
                    continue
                value = value.astype(dtype)
                value = value[:, None] if name.endswith(".bias") else value.reshape(len(value), -1)
                cast[name] = np.ascontiguousarray(value)
            self._casts[dtype] = cast
        return self._casts[dtype]


def _check_size(architecture: str, config: dict[str, Any],
                shapes: dict[str, tuple[int, ...]]) -> None:
    """Refuse, before anything is allocated, a model whose weights pass the memory budget
    (the message quotes the sizes in its config)."""
    count = sum(math.prod(shape) for shape in shapes.values())
    largest = max(shapes, key=lambda name: math.prod(shapes[name]), default="")
    layers = config.get("layers")
    if largest.startswith("layers.") and isinstance(layers, list):  # a Stack: that layer's
        config = layers[int(largest.split(".")[1])]
    sizes = ", ".join(f"{key}={value}" for key, value in config.items()
                      if isinstance(value, int) and not isinstance(value, bool))
    check_budget(8.0 * count, f"{architecture}({sizes}): {count} weights in float64 (the "
                 f"largest: {largest} of shape {shapes.get(largest)})",
                 "use fewer or narrower layers")


def check_run_buffers(model: Model, batch: int, m: int, dtype: npt.DTypeLike) -> None:
    """Refuse, with the numbers, a run on chunks of ``m`` samples (at most ``BLOCK``) of
    ``batch`` rows in ``dtype`` whose buffers pass the memory budget: each dilated conv's
    history (``span`` samples and room for as many, ``C_in`` channels; as many copies as
    ``model.history_copies()``) and im2col block
    (``m`` rows of ``K * C_in / groups`` values and one for a bias; convs of one shape and
    bias share theirs)."""
    itemsize = np.dtype(dtype).itemsize
    blocks: dict[tuple[int, int, bool], int] = {}
    histories = 0
    for conv in model.dilated_convs.values():
        c_in_group, k = conv.weight.shape[1:]
        biased = conv.bias is not None
        blocks[c_in_group, k, biased] = k * c_in_group + biased
        histories += (conv.span + max(conv.span, BLOCK)) * conv.in_channels
    histories *= model.history_copies()
    per_sample = batch * itemsize * sum(blocks.values())
    nbytes = per_sample * m + batch * itemsize * histories
    if nbytes <= memory_budget():
        return
    name, conv = max(model.dilated_convs.items(),
                     key=lambda item: item[1].span * item[1].in_channels
                     + m * item[1].weight[0].size)
    fits = (memory_budget() - batch * itemsize * histories) // per_sample
    advice = (f"stream it (model.stream()) in chunks of at most {fits} samples (the offline "
              f"call runs blocks of up to {BLOCK})" if fits >= 1 else "use fewer batch rows") \
        + ", or a smaller kernel_size, dilation or channels"
    check_budget(nbytes, f"{model.architecture} on chunks of {m} samples x batch {batch} in "
                 f"{np.dtype(dtype)}: its convs' histories and im2col blocks (the largest: "
                 f"{name} with kernel_size={conv.kernel_size}, dilation={conv.dilation} and "
                 f"{conv.in_channels} input channels)", advice)


def _init_params(shapes, rng) -> dict[str, np.ndarray]:
    """torch.nn.Conv1d's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in));
    a norm's ``(C,)`` weight and bias (torch.nn.LayerNorm's): ones and zeros."""
    params, fan_in = {}, {}
    for name, shape in shapes.items():
        module = name.rsplit(".", 1)[0]
        if name.endswith(".weight") and len(shape) == 3:
            fan_in[module] = shape[1] * shape[2]
        if module not in fan_in:  # a norm
            params[name] = np.ones(shape) if name.endswith(".weight") else np.zeros(shape)
            continue
        bound = 1 / np.sqrt(fan_in[module])
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
               groups=1, extent: tuple[int, int] | None = None) -> LayerSpec:
    """A conv's ``LayerSpec`` (``extent``: its ``(left, right)``; None: causal)."""
    left, right = (None, 0) if extent is None else extent
    return LayerSpec(kernel_size=kernel_size, dilation=dilation, left=left, right=right,
                     in_channels=in_channels, out_channels=out_channels, groups=groups,
                     name=name)


def spec_layers(tree: Any) -> dict[str, LayerSpec]:
    """The named layers of a spec tree, by name (a layer on several paths once)."""
    if isinstance(tree, LayerSpec):
        return {tree.name: tree}
    found: dict[str, LayerSpec] = {}
    if isinstance(tree, (Chain, Branches)):
        for part in tree.parts:
            found.update(spec_layers(part))
    return found


def _pointwise(w: np.ndarray, b, x: np.ndarray) -> np.ndarray:
    y = np.matmul(w, x)
    if b is not None:
        y += b
    return y


@dataclass
class ModelState:
    """What a model stream remembers: each fused conv's time-major history by parameter
    name (the unfused convs are the stream's children, each with its ``ConvState``); with
    lookahead, each branch's delay line by name and the last chunk's global conditioning
    (the flush computes with it)."""

    histories: dict[str, History] = field(default_factory=dict)
    delays: dict[str, DelayLine] = field(default_factory=dict)
    cond: dict[str, np.ndarray] = field(default_factory=dict)


class ModelStream(Stream):
    """A model's stream: its runtime chosen once, weights cast per dtype, blocks of
    ``BLOCK`` samples; a subclass binds its layers in ``_bind`` and runs them in ``_run``."""

    state: ModelState

    def __init__(self, model: Model, batch: int | None = None) -> None:
        super().__init__(model.in_channels, model.out_channels, model.latency, batch)
        self.model = model
        self._delays = model.delays()  # name -> (channels, samples)
        self._final = False  # True while finish() runs the model on no input
        self.w: dict[str, np.ndarray] = {}  # the 1x1 convs' weights in _dtype (_prepare)
        self.ops: dict[str, Callable[[np.ndarray], np.ndarray]] = {}  # per conv (_prepare)
        self._dtype: np.dtype | None = None  # None: not prepared yet
        self._chain: FusedChain | None = None  # set by a fused subclass's _bind, per dtype
        self._bound: tuple[Any, ...] = (None, None, None)  # (state, chunk shape, plan)
        # the unfused convs run as engine streams: built only when that runtime runs
        self._convs: dict[str, ConvStream] = {} if self.fused() else {
            name: ConvStream(conv) for name, conv in model.dilated_convs.items()}
        self._budgeted: tuple[int, np.dtype, int] | None = None  # (batch, dtype, most m)

    def accept(self, chunk: npt.ArrayLike) -> tuple[np.ndarray, Layout]:
        """``Stream.accept``, and the run buffers of chunks of this size within the memory
        budget (``check_run_buffers``), before anything changes."""
        x, layout = super().accept(chunk)
        if not self._budgeted_for(x):
            batch, m, dtype = x.shape[0], min(x.shape[-1], BLOCK), x.dtype
            check_run_buffers(self.model, batch, m, dtype)
            self._budgeted = (batch, dtype, m)
        return x, layout

    def _budgeted_for(self, x: np.ndarray) -> bool:
        """Whether the run buffers of chunks like ``x`` ``(B, C_in, m)`` were checked (a
        longer chunk runs in blocks of ``BLOCK``)."""
        done = self._budgeted
        return done is not None and done[0] == x.shape[0] and done[1] is x.dtype and \
            min(x.shape[-1], BLOCK) <= done[2]

    def fused(self) -> bool:
        """Whether this stream runs the fused chain (then it has no child streams)."""
        return False

    def _plan(self, batch: int, m: int, dtype: np.dtype) -> Any:
        """The fused chain's convs bound to this state's histories and to input blocks of
        ``m`` samples (``_make_plan``), kept while the state and chunk shape stay (the
        per-chunk overhead matters at chunk 1)."""
        state = self.state
        bound_state, shape, plan = self._bound
        if bound_state is not state or shape != (batch, m):
            chain = self._chain
            assert chain is not None  # the fused runtime
            plan = self._make_plan(chain.convs, state.histories,
                                   chain.inputs_blocks(batch, m, dtype))
            self._bound = (state, (batch, m), plan)
        return plan

    def _make_plan(self, convs: dict, histories: dict, inputs: dict) -> Any:
        """A fused subclass's per-chunk plan from its convs, histories and input blocks."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(op={self.model.architecture}, latency={self.latency}, "
                f"batch={self.batch})")

    def config(self) -> dict[str, Any]:
        return {"op": self.model.architecture, **self.model.config}

    def children(self) -> Mapping[str, Stream]:
        return self._convs

    def new_state(self, batch: int, dtype: np.dtype) -> ModelState:
        self._prepare(dtype)
        chain = self._chain
        return ModelState({} if chain is None else chain.new_state(batch, dtype),
                          {name: DelayLine((batch, channels), samples, dtype)
                           for name, (channels, samples) in self._delays.items()})

    def _prepare(self, dtype: np.dtype) -> None:
        """Bind every conv to one callable on ``(B, C, m)`` blocks of this dtype."""
        if self._dtype is None or self._dtype != dtype:  # (np.dtype("f8") == None is True)
            self.w, self._dtype = self.model._cast(dtype), dtype
            self.ops = {}
            for name in self.model.params:
                if not name.endswith(".weight"):
                    continue
                name = name[: -len(".weight")]
                child = self._convs.get(name)
                if child is not None:  # the engine's stream (im2col products, its own cast)
                    self.ops[name] = child.step if not child.latency else \
                        partial(self._lookahead_conv, child)
                elif name not in self.model.dilated_convs and \
                        self.model.params[name + ".weight"].ndim == 3:  # 1x1: a matmul
                    self.ops[name] = partial(_pointwise, self.w[name + ".weight"],
                                             self.w.get(name + ".bias"))
            self._bind(dtype)

    def _lookahead_conv(self, child: ConvStream, x: np.ndarray) -> np.ndarray:
        """A conv with lookahead: its output so far, and in ``finish`` what it held back."""
        y = child.step(x)
        return np.concatenate([y, child.finish()], axis=-1) if self._final else y

    def delay(self, name: str, x: np.ndarray) -> np.ndarray:
        """``x`` through delay line ``name`` (itself if that line has no delay)."""
        line = self.state.delays.get(name)
        if line is None:
            return x
        y = line.push(x)
        return np.concatenate([y, line.drain()], axis=-1) if self._final else y

    def finish(self) -> np.ndarray:
        """The held-back ``latency`` samples: the model run on no input, each conv and
        delay line giving out what it holds."""
        layout = self.layout
        assert layout is not None
        if not self.latency:
            return super().finish()
        self._prepare(layout.dtype)
        self._final = True
        try:
            return self._run(np.zeros((layout.batch, self.in_channels, 0), layout.dtype),
                             **self._final_cond(layout.batch))
        finally:
            self._final = False

    def _final_cond(self, batch: int) -> dict[str, np.ndarray]:
        """The conditioning of the flush's empty chunk (a WaveNet's)."""
        return {}

    def _bind(self, dtype: np.dtype) -> None:
        """Subclasses look up their per-layer callables here, once per ``dtype`` (a fused
        one sets ``self._chain``, whose histories the state then holds)."""

    def step(self, x: np.ndarray, **cond: np.ndarray) -> np.ndarray:
        self._prepare(x.dtype)
        n = x.shape[-1]
        if n <= BLOCK:
            return self._run(x, **cond)
        parts = []
        for i in range(0, n, BLOCK):
            parts.append(self._run(x[..., i : i + BLOCK], **cut_in_time(cond, i, i + BLOCK)))
        return np.concatenate(parts, axis=-1)

    def _run(self, x: np.ndarray, **cond: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def export_state(self) -> dict[str, np.ndarray]:
        if self.state is None:
            return {}
        out = {} if self._chain is None else self._chain.export(self.state.histories)
        out.update({f"{name}.history": line.recent().copy()
                    for name, line in self.state.delays.items()})
        out.update({name: value[..., 0].copy() for name, value in self.state.cond.items()})
        return out

    def state_spec(self, layout: Layout) -> dict[str, ArraySpec | None]:
        """The fused chain's ``{conv}.history``, each the conv's last ``span`` inputs (the
        unfused convs are children with their own ``history``); with lookahead, each delay
        line's ``{branch}.history`` (up to its delay) and ``_cond_spec``'s conditioning."""
        spec: dict[str, ArraySpec | None] = {}
        if self.fused():
            spec.update({f"{name}.history": history_spec(layout.batch, conv.in_channels,
                                                         conv.span, layout.dtype, conv.span)
                         for name, conv in self.model.dilated_convs.items()})
        spec.update({f"{name}.history": history_spec(layout.batch, channels, samples,
                                                     layout.dtype)
                     for name, (channels, samples) in self._delays.items()})
        spec.update(self._cond_spec(layout))
        return spec

    def _cond_spec(self, layout: Layout) -> dict[str, ArraySpec | None]:
        """The saved conditioning a flush needs (a WaveNet's ``global_cond``)."""
        return {}

    def check_state(self, arrays: Mapping[str, Any], layout: Layout) -> None:
        if self.latency:  # the convs and delay lines fill in turn
            self._check_fill(arrays, layout)
        else:
            check_together(arrays, [f"{name}.history" for name, conv
                                    in self.model.dilated_convs.items() if conv.span],
                           "the convs of a model start together, on its first samples")

    def _check_fill(self, arrays: Mapping[str, Any], layout: Layout) -> None:
        """With lookahead each conv and delay line sees the input later by the lookahead
        upstream of it: the lengths must be those a probe stream of this model shows after
        some count of zero samples (``wavedil.engine.state.check_fill``)."""
        if "_fill" not in self.__dict__:
            specs = self.full_state_spec(layout)
            most = max((spec.shape[-1] for spec in specs.values() if spec is not None),
                       default=0)
            probe = self.model.stream()
            self._probe_step(probe, np.zeros((self.in_channels, 0)))  # started, no sample
            self.__dict__["_fill"] = fill_table(
                probe.state_dict, lambda: self._probe_step(probe, np.zeros((self.in_channels, 1))),
                self.latency + most + 1)
        check_fill(arrays, self.__dict__["_fill"])

    def _probe_step(self, probe: Stream, x: np.ndarray) -> None:
        """One zero sample through ``probe`` (a WaveNet adds its conditioning)."""
        probe.process(x)

    def import_state(self, arrays: Mapping[str, Any], batch: int, dtype: np.dtype) -> None:
        self._prepare(dtype)
        state = self.new_state(batch, dtype)
        if self._chain is not None:
            state.histories = self._chain.load(arrays, batch, dtype)
        for name, line in state.delays.items():
            key = f"{name}.history"
            if key in arrays:
                line.load(checked_history(arrays[key], key, dtype,
                                          (batch, line.lead_shape[1], line.delay)))
        for name, value in self._import_cond(arrays, batch, dtype).items():
            state.cond[name] = value[..., None]
        self.state = state

    def _import_cond(self, arrays: Mapping[str, Any], batch: int,
                     dtype: np.dtype) -> dict[str, np.ndarray]:
        """The saved conditioning of the flush (a WaveNet's global_cond), checked."""
        return {}


MAX_LAYERS = 1024  # the most layers (blocks) of a TCN or WaveNet, stacks included


def check_layers(per_stack: int, stacks: int) -> None:
    """Refuse ``per_stack * stacks`` layers beyond ``MAX_LAYERS`` (before any weight is made:
    a deeper stack takes minutes and gigabytes to build)."""
    if per_stack * stacks > MAX_LAYERS:
        raise ValueError(f"stacks={stacks} of {per_stack} layers makes {per_stack * stacks} "
                         f"layers, more than {MAX_LAYERS} "
                         f"(wavedil.models.base.MAX_LAYERS): use fewer stacks")
