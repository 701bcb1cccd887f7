"""The machinery shared by the numpy models (``TCN``, ``WaveNet``, ``Stack``).

The numpy twins of the torch modules in ``wavedil.nn`` (same architectures, same parameter
names, weight norm folded), built on ``DilatedConv1d`` / ``ConvStream``: train in torch,
``wavedil.nn.export`` the model, ``wavedil.models.loader.load`` it here, run it without torch.
This module holds what they share: ``Model`` (parameters, checks, dtype casts, the offline
call) and ``ModelStream`` (the state protocol of a model's stream and its blocks).

Two runtimes serve one semantics, kept equal by the tests against the torch twins: a TCN
or WaveNet with dilated gate convs runs the fused, time-major chain
(``wavedil.engine.fused``), whose histories live in the stream's ``ModelState``; any other
model (kernel size 1, ``Stack``) runs each dilated conv as an engine ``ConvStream``, a named
child of the stream, and each 1x1 conv as a matrix product. Either way a state exports
``{conv name}.history`` arrays ``(B, C_in, n)`` in the engine's channel-major layout, so a
saved state does not depend on the runtime.

Every model is causal (latency 0): ``model(x)`` offline and ``model.stream(batch)``
chunk by chunk agree for any split (the streaming contract, DESIGN.md); the offline call
is a fresh stream (split over threads by batch rows or in time, ``wavedil.models.parallel``),
run in blocks of ``BLOCK`` samples so the activations stay in cache.
Each model's ``.spec`` is its spec tree (``wavedil.engine.spec``) for receptive-field tooling.

Shape: ``(T,)``, ``(C_in, T)`` or ``(B, C_in, T)`` in, the same layout with ``C_out``
channels out (``(T,)`` stays ``(T,)`` when ``C_out == 1``). Weights are stored as given
and cast to the input's dtype (float32 stays float32, float64 stays float64).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import numpy as np
import numpy.typing as npt

from ..engine.checks import as_float_array
from ..engine.conv import ConvStream, DilatedConv1d
from ..engine.fused import FusedChain
from ..engine.history import History
from ..engine.spec import Chain, LayerSpec
from ..engine.state import ArraySpec, check_together, history_spec
from ..engine.stream import Layout, Stream
from ..receptive.field import past_extent, short_tuple
from .file import save_model
from .parallel import cut_in_time, run_offline

BLOCK = 2048  # samples per internal block of a stream (offline calls run in these blocks)


class Model:
    """Parameters, checks, dtype casts and the offline call shared by the numpy models
    (one place, so the three architectures cannot drift apart)."""

    architecture = ""

    def __init__(self, config: dict[str, Any], params: Mapping[str, npt.ArrayLike] | None
                 | Callable[[dict[str, tuple[int, ...]]], Mapping[str, npt.ArrayLike]],
                 seed: int | None) -> None:
        """``params``: ``{name: array}``, None (random, from ``seed``), or a function of
        ``{name: shape}`` that returns them (``wavedil.load`` checks each file member
        against its shape before it reads it)."""
        self.config = config
        shapes = self.param_shapes()
        if params is None:
            params = _init_params(shapes, np.random.default_rng(seed))
        elif callable(params):
            params = params(shapes)
        self.params = _check_params(params, shapes)
        self._casts: dict = {}
        self.dilated_convs = {name: DilatedConv1d(self.params[name + ".weight"],
                                           self.params.get(name + ".bias"), dilation, groups)
                       for name, (dilation, groups) in self._dilated().items()}

    @property
    def in_channels(self) -> int:
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

    @property
    def spec(self) -> Chain:
        """The spec tree (``Chain``/``Branches`` of ``LayerSpec``) of the audio input path."""
        return self.spec_of(self.config)

    @classmethod
    def spec_of(cls, config: dict[str, Any]) -> Chain:
        """The spec tree of a model with this (resolved) ``config``; the torch twins use it."""
        raise NotImplementedError

    @property
    def receptive_field(self) -> int:
        """Input samples each output sees: ``1 + sum of (K - 1) * dilation`` on the longest path."""
        return 1 + past_extent(self.spec)

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
        return save_model(path, self.architecture, self.config, self.params)

    def __repr__(self) -> str:
        def short(value: Any) -> str:
            if isinstance(value, list) and len(value) > 7:
                return short_tuple(value)
            return repr(value)
        options = ", ".join(f"{k}={short(v)}" for k, v in self.config.items())
        return f"{self.architecture}({options})"

    def _cast(self, dtype: npt.DTypeLike) -> dict[str, np.ndarray]:
        """The 1x1 convs' weights in ``dtype``: ``(C_out, C_in)`` matrices, bias columns.

        The dilated convs are ``DilatedConv1d`` layers, which cast their own weights.
        """
        dtype = np.dtype(dtype)
        if dtype not in self._casts:
            cast = {}
            for name, value in self.params.items():
                if name.rsplit(".", 1)[0] in self.dilated_convs:
                    continue
                value = value.astype(dtype)
                value = value[:, None] if name.endswith(".bias") else value.reshape(len(value), -1)
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


def _pointwise(w: np.ndarray, b, x: np.ndarray) -> np.ndarray:
    y = np.matmul(w, x)
    if b is not None:
        y += b
    return y


@dataclass
class ModelState:
    """What a model stream remembers: each fused conv's time-major history by parameter
    name (the unfused convs are the stream's children, each with its ``ConvState``)."""

    histories: dict[str, History] = field(default_factory=dict)


class ModelStream(Stream):
    """A model's stream: its runtime chosen once, weights cast per dtype, blocks of
    ``BLOCK`` samples; a subclass binds its layers in ``_bind`` and runs them in ``_run``."""

    state: ModelState

    def __init__(self, model: Model, batch: int | None = None) -> None:
        super().__init__(model.in_channels, model.out_channels, 0, batch)
        self.model = model
        self.w: dict[str, np.ndarray] = {}  # the 1x1 convs' weights in _dtype (_prepare)
        self.ops: dict[str, Callable[[np.ndarray], np.ndarray]] = {}  # per conv (_prepare)
        self._dtype: np.dtype | None = None  # None: not prepared yet
        self._chain: FusedChain | None = None  # set by a fused subclass's _bind, per dtype
        self._bound: tuple[Any, ...] = (None, None, None)  # (state, chunk shape, plan)
        # the unfused convs run as engine streams: built only when that runtime runs
        self._convs: dict[str, ConvStream] = {} if self.fused() else {
            name: ConvStream(conv) for name, conv in model.dilated_convs.items()}

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
        return ModelState({} if chain is None else chain.new_state(batch, dtype))

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
                    self.ops[name] = child.step
                elif name not in self.model.dilated_convs:  # 1x1: a matmul, no memory
                    self.ops[name] = partial(_pointwise, self.w[name + ".weight"],
                                             self.w.get(name + ".bias"))
            self._bind(dtype)

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
        if self._chain is None or self.state is None:
            return {}
        return self._chain.export(self.state.histories)

    def state_spec(self, layout: Layout) -> dict[str, ArraySpec | None]:
        """The fused chain's ``{conv}.history``, each the conv's last ``span`` inputs
        (the unfused convs are children with their own ``history``)."""
        if not self.fused():
            return {}
        return {f"{name}.history": history_spec(layout.batch, conv.in_channels, conv.span,
                                                layout.dtype, conv.span, required=True)
                for name, conv in self.model.dilated_convs.items()}

    def check_state(self, arrays: Mapping[str, Any], layout: Layout) -> None:
        check_together(arrays, [f"{name}.history" for name, conv in self._convs.items()
                                if conv.layer.span],
                       "the convs of a model start together, on its first samples")

    def import_state(self, arrays: Mapping[str, Any], batch: int, dtype: np.dtype) -> None:
        self._prepare(dtype)
        if self._chain is not None:
            self.state = ModelState(self._chain.load(arrays, batch, dtype))
