"""TCN in numpy: residual blocks of two dilated convs, offline and streaming.

After Bai, Kolter & Koltun (2018), as in locuslab/TCN: each block computes
``relu(x' + relu(conv2(relu(conv1(x)))))`` with ``x'`` = ``x`` or a 1x1 projection
(``downsample``) where the widths differ; an optional 1x1 ``head`` follows the last block.
The options of pytorch-tcn (``wavedil.nn.from_pytorch_tcn``) extend it: another
``activation``; ``norm="layer_norm"`` after each conv (over the channels of each sample);
``gate`` (conv1 twice as wide, then ``a * sigmoid(b)`` instead of its activation);
``skip_connections`` (the output is ``act(sum of skips + x)``, block ``i``'s skip its
``act(conv2(...))`` through a 1x1 ``skips.{i}`` where the width differs, the last block's
output in place of its skip); ``output_activation`` after the head; and an ``alignment``
with lookahead (``wavedil.models.alignment``). ``tcn_config`` (the resolved options) is
shared with the torch twin ``wavedil.nn.TCN``; the machinery common to the numpy models is
in ``wavedil.models.base``.

Shape: ``(T,)``, ``(C_in, T)`` or ``(B, C_in, T)`` in, the same layout with ``C_out``
channels out (``(T,)`` stays ``(T,)`` when ``C_out == 1``).

>>> import numpy as np
>>> tcn = TCN(1, [8, 8], kernel_size=3, out_channels=1, seed=0)
>>> x = np.random.default_rng(0).standard_normal(100).astype(np.float32)
>>> s = tcn.stream()
>>> y = np.concatenate([s.process(x[:37]), s.process(x[37:]), s.flush()])
>>> bool(np.allclose(y, tcn(x), rtol=0, atol=1e-6)), tcn.receptive_field
(True, 13)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from threading import get_ident
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from ..engine.blocks import ResidualChainStep
from ..engine.chain_threads import ChainThreads
from ..engine.checks import positive_int
from ..engine.finite import policy
from ..engine.fused import (
    ChainHistories,
    FusedChain,
    FusedConv,
    residual_blocks,
    time_major_1x1,
)
from ..engine.params import integer
from ..engine.spec import Branches, Chain, LayerSpec, dilation_schedule
from ..engine.stream import single_consumer
from .activations import ACTIVATIONS, activate, glu, layer_norm
from .alignment import Alignment, alignment_option, branch_delays, conv_extents
from .base import BLOCK, Model, ModelStream, _conv_spec, check_layers
from .tcn_lookahead import LookaheadStep

# chunks of up to this many samples run the compiled step (``wavedil.engine.blocks``);
# longer ones the fused chain, whose Winograd products only draw level with the step's
# from about 512 samples at 64 channels (benchmarks/RESULTS.md)
STEP_SAMPLES = 256
MAX_THREADS = 2  # ``TCN.stream(threads=...)``: the caller and at most one worker thread
# with two threads, shorter chunks still run on the calling thread alone: a conv's handover
# between the cores (and its input rows, half written by the other core) costs more than
# half of its products there (measured: one thread is faster up to 20 samples at 64
# channels, two from 24; benchmarks/RESULTS.md)
TWO_THREAD_SAMPLES = 24

NORMS = (None, "layer_norm")  # batch norm folds into the convs (wavedil.nn.from_pytorch_tcn)
# the options beyond Bai et al.'s block, with their defaults: a config holds them only when
# they differ (so a default TCN's config, file and stream state are those of version 1)
TCN_OPTIONS: dict[str, Any] = {"alignment": "causal", "activation": "relu", "norm": None,
                               "gate": False, "skip_connections": False,
                               "output_activation": None}


def tcn_plan(channels: int | Sequence[int], dilations: Sequence[int] | None = None,
             stacks: int = 1) -> tuple[list[int], list[int]]:
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
    check_layers(1, stacks)
    if not isinstance(channels, (int, np.integer, list, tuple)):
        raise TypeError(f"channels must be an integer or a list of integers, got {channels!r}")
    if dilations is None:
        if isinstance(channels, (int, np.integer)):
            raise ValueError(f"TCN needs channels as a list (one width per block) or a dilations "
                             f"list, got channels={channels} and dilations=None")
        blocks = len(channels)
        if blocks == 0 or blocks % stacks:
            raise ValueError(f"{blocks} channel widths cannot be split into {stacks} stacks")
        full = dilation_schedule(blocks // stacks, stacks=stacks)
    else:
        full = [positive_int(d, "dilation") for d in dilations]
        check_layers(len(full), stacks)
        full *= stacks
        if not full:
            raise ValueError("dilations must list at least one dilation, got an empty list")
    if isinstance(channels, (int, np.integer)):
        widths = [positive_int(channels, "channels")] * len(full)
    else:
        widths = [positive_int(int(c), "channels") for c in channels]
        if len(widths) != len(full):  # (one width for all always fits)
            raise ValueError(f"channels: expected {len(full)} widths (one per block: "
                             f"{len(full) // stacks}"
                             f" dilations x {stacks} stacks), got {len(widths)}: "
                             f"{list(channels)}")
    return widths, full


def tcn_config(in_channels: int, channels: int | Sequence[int], kernel_size: int = 3,
               dilations: Sequence[int] | None = None, stacks: int = 1,
               out_channels: int | None = None, **options: Any) -> dict[str, Any]:
    """A TCN's resolved, checked configuration (``TCN``'s arguments; ``options`` are
    ``TCN_OPTIONS``, kept only where they differ from their defaults).

    >>> tcn_config(1, 4, 3, [1, 2], activation="gelu", alignment="centered")["activation"]
    'gelu'
    """
    widths, full = tcn_plan(channels, dilations, stacks)
    config: dict[str, Any] = {
        "in_channels": positive_int(in_channels, "in_channels"), "channels": widths,
        "kernel_size": positive_int(kernel_size, "kernel_size"), "dilations": full,
        "out_channels": None if out_channels is None else
        positive_int(out_channels, "out_channels")}
    unknown = sorted(set(options) - set(TCN_OPTIONS))
    if unknown:
        raise TypeError(f"TCN got unexpected options {unknown}; it takes {sorted(TCN_OPTIONS)}")
    resolved = {**TCN_OPTIONS, **options}
    for key in ("activation", "output_activation"):
        value = resolved[key]
        if value not in ACTIVATIONS and not (key == "output_activation" and value is None):
            raise ValueError(f"{key} must be one of {ACTIVATIONS}"
                             f"{' or None' if key == 'output_activation' else ''}, got {value!r}")
    if resolved["norm"] not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {resolved['norm']!r}")
    for key in ("gate", "skip_connections"):
        if not isinstance(resolved[key], (bool, np.bool_)):
            raise ValueError(f"{key} must be True or False, got {resolved[key]!r}")
        resolved[key] = bool(resolved[key])
    resolved["alignment"] = alignment_option(resolved["alignment"], conv_spans(config))
    config.update({k: v for k, v in resolved.items() if v != TCN_OPTIONS[k]})
    return config


def conv_spans(config: dict[str, Any]) -> dict[str, int]:
    """Each dilated conv's span ``(K - 1) * dilation``, in the alignment's order."""
    k = config["kernel_size"]
    return {f"blocks.{i}.conv{j}": (k - 1) * d for i, d in enumerate(config["dilations"])
            for j in (1, 2)}


class TCN(Model):
    """Temporal convolutional network (Bai, Kolter & Koltun 2018), inference in numpy.

    Args:
        in_channels: input channels.
        channels: one width for every block, or a list of one width per block.
        kernel_size: taps of each dilated conv (two per block).
        dilations: dilations of one stack (default ``1, 2, 4, ...``, one per block).
        stacks: repeats of ``dilations``.
        out_channels: width of an optional 1x1 ``head`` after the last block (None: no head).
        alignment: ``"causal"`` (latency 0), ``"centered"`` or one ``(left, right)`` pair
            per dilated conv (``blocks.0.conv1``, ``blocks.0.conv2``, ``blocks.1.conv1``...).
        activation: of every conv and residual sum (``ACTIVATIONS``; default ``"relu"``).
        norm: None, or ``"layer_norm"`` after each conv (over the channels of a sample).
        gate: conv1 gives ``2 C`` channels, ``a * sigmoid(b)`` of its halves (GLU).
        skip_connections: the output is ``act(skips + last block)`` (see the module).
        output_activation: after the head (or the last block); None: none.
        params: ``{name: array}`` as written by ``wavedil.nn.export`` (None: random, ``seed``).

    Parameters: ``blocks.{i}.conv1/conv2.weight/bias``, ``blocks.{i}.downsample.weight/bias``
    (where the width changes), ``blocks.{i}.norm1/norm2.weight/bias`` (``(C,)``, layer
    norm), ``skips.{i}.weight/bias`` (skip connections), ``head.weight/bias``.
    """

    architecture = "TCN"
    OPTIONS_V2 = tuple(TCN_OPTIONS)

    def __init__(self, in_channels: int, channels: int | list[int], kernel_size: int = 3,
                 dilations: list[int] | None = None, stacks: int = 1,
                 out_channels: int | None = None, *, alignment: Alignment = "causal",
                 activation: str = "relu", norm: str | None = None, gate: bool = False,
                 skip_connections: bool = False, output_activation: str | None = None,
                 params: dict[str, npt.ArrayLike] | None = None, seed: int | None = 0) -> None:
        config = tcn_config(in_channels, channels, kernel_size, dilations, stacks, out_channels,
                            alignment=alignment, activation=activation, norm=norm, gate=gate,
                            skip_connections=skip_connections,
                            output_activation=output_activation)
        super().__init__(config, params, seed)

    def option(self, name: str) -> Any:
        """Option ``name`` of ``TCN_OPTIONS`` (its default when the config leaves it out)."""
        return self.config.get(name, TCN_OPTIONS[name])

    @staticmethod
    def _widths(c):
        return list(zip([c["in_channels"]] + c["channels"][:-1], c["channels"]))

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape (PyTorch layout), as in the torch twin
        ``wavedil.nn.TCN``."""
        k, shapes = self.config["kernel_size"], {}
        gate, norm = self.option("gate"), self.option("norm")
        last = self.config["channels"][-1]
        for i, (c_in, c_out) in enumerate(self._widths(self.config)):
            wide = 2 * c_out if gate else c_out
            shapes.update({f"blocks.{i}.conv1.weight": (wide, c_in, k),
                           f"blocks.{i}.conv1.bias": (wide,),
                           f"blocks.{i}.conv2.weight": (c_out, c_out, k),
                           f"blocks.{i}.conv2.bias": (c_out,)})
            if norm is not None:
                shapes.update({f"blocks.{i}.norm1.weight": (wide,),
                               f"blocks.{i}.norm1.bias": (wide,),
                               f"blocks.{i}.norm2.weight": (c_out,),
                               f"blocks.{i}.norm2.bias": (c_out,)})
            if c_in != c_out:
                shapes.update({f"blocks.{i}.downsample.weight": (c_out, c_in, 1),
                               f"blocks.{i}.downsample.bias": (c_out,)})
        if self.option("skip_connections"):
            for i, c_out in enumerate(self.config["channels"][:-1]):
                if c_out != last:
                    shapes.update({f"skips.{i}.weight": (last, c_out, 1),
                                   f"skips.{i}.bias": (last,)})
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
    def out_channels(self) -> int:
        """C_out: ``out_channels`` (the head's), else the last block's channels."""
        return self.config["out_channels"] or self.config["channels"][-1]

    @classmethod
    def spec_of(cls, config: dict[str, Any]) -> Chain:
        """The spec tree of a TCN with this (resolved) ``config``; the torch twin uses it."""
        k, last = config["kernel_size"], config["channels"][-1]
        extents = conv_extents(config.get("alignment", "causal"), conv_spans(config))
        wide = 2 if config.get("gate", False) else 1
        blocks: list[Branches] = []
        skips: list[Chain] = []  # with skip connections: each block's path to the output
        for i, ((c_in, c_out), d) in enumerate(zip(cls._widths(config), config["dilations"])):
            n1, n2 = f"blocks.{i}.conv1", f"blocks.{i}.conv2"
            body = Chain((_conv_spec(n1, c_in, wide * c_out, k, d, extent=extents[n1]),
                          _conv_spec(n2, c_out, c_out, k, d, extent=extents[n2])))
            residual = Chain(()) if c_in == c_out else \
                _conv_spec(f"blocks.{i}.downsample", c_in, c_out)
            if i < len(config["dilations"]) - 1 and c_out != last:
                skips.append(Chain(tuple(blocks) + (body, _conv_spec(f"skips.{i}", c_out,
                                                                     last))))
            else:
                skips.append(Chain(tuple(blocks) + (body,)))
            blocks.append(Branches((residual, body)))
        parts: list[Branches | LayerSpec] = list(blocks)
        if config.get("skip_connections", False):
            parts = [Branches(tuple(skips[:-1]) + (Chain(tuple(blocks)),))]
        if config["out_channels"] is not None:
            parts.append(_conv_spec("head", last, config["out_channels"]))
        return Chain(tuple(parts))

    def delays(self) -> dict[str, tuple[int, int]]:
        """Each block's residual waits for its convs' lookahead (``blocks.{i}.res_delay``);
        with skip connections, block ``i``'s skip for the later blocks' (``skip_delays.{i}``)."""
        return tcn_delays(self.config)

    def history_copies(self) -> int:
        """2 with lookahead alone (``lookahead_steps``): the conv streams' histories and
        the compiled step's arena; else 1."""
        return 2 if lookahead_steps(self.config) else 1

    def stream(self, batch: int | None = None, *, threads: int = 1) -> TCNStream:
        """A fresh stream (latency ``self.latency``); ``batch`` fixes the batch size of 3-D
        chunks; ``threads=2`` runs its short chunks on two threads (see ``TCNStream``)."""
        return TCNStream(self, batch, threads=threads)


def tcn_delays(config: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """``TCN.delays`` of a config (the torch twin places its delays by it)."""
    extents = conv_extents(config.get("alignment", "causal"), conv_spans(config))
    last = config["channels"][-1]
    lags = []  # per block: its convs' lookahead
    waits: dict[str, tuple[int, int]] = {}
    for i, c_out in enumerate(config["channels"]):
        lags.append(extents[f"blocks.{i}.conv1"][1] + extents[f"blocks.{i}.conv2"][1])
        waits[f"blocks.{i}.res_delay"] = (c_out, lags[-1])
    if config.get("skip_connections", False):
        for i in range(len(lags) - 1):
            waits[f"skip_delays.{i}"] = (last, sum(lags[i + 1:]))
    return branch_delays(waits)


def lookahead_steps(config: dict[str, Any]) -> bool:
    """Whether a TCN of this config streams short chunks through ``LookaheadStep``: Bai et
    al.'s block with dilated convs and lookahead, and no other option."""
    return config["kernel_size"] > 1 and set(config) & set(TCN_OPTIONS) == {"alignment"}


# the compiled step of a stream as a function of (chunk, finite_only): None where it leaves
# the chunk alone
StepRunner = Callable[[np.ndarray, bool], "np.ndarray | None"]


class TCNStream(ModelStream):
    """Stream of a numpy ``TCN``.

    With dilated convs (``kernel_size > 1``) a chunk runs as a fused, time-major chain
    (``wavedil.engine.fused``): per conv its matrix products (im2col, or Winograd F(2, 3) for
    chunks of 32 samples and more in whole tiles) and compiled passes that apply the
    ReLUs and the residual sum, write the result into the next conv's history and gather
    that conv's inputs. Chunks of up to ``STEP_SAMPLES`` run whole in one compiled call
    (``wavedil.engine.blocks``) on the same histories. States keep the engine's layout.

    Other options run each conv as an engine stream (lookahead held back) between numpy
    passes; with lookahead alone (``lookahead_steps``), once every history is full, chunks
    run the compiled step or the fused chain too (``wavedil.models.tcn_lookahead``).

    ``threads=2`` splits the causal TCN's compiled step over the calling thread and a
    worker thread of the stream (``wavedil.engine.chain_threads``), half of every conv's
    output channels each, for when two cores are free (on a busy machine it can be slower
    than one thread): the same states (a state moves between thread counts at any chunk)
    and the same output within the streaming contract's tolerance (BLAS products per
    half). Chunks of fewer than ``TWO_THREAD_SAMPLES`` run on the calling thread alone, as
    with ``threads=1``: there a conv's handover between the cores costs more than the half
    it shares. The worker starts on the first chunk it takes, sleeps when chunks stop
    coming and ends with ``close()`` (or ``with``, or when the stream is dropped);
    ``threads=1`` (the default) starts no thread, nor does a TCN with lookahead, whose
    step runs on the calling thread.
    """

    model: TCN
    # the Python runtime (_bind): per block conv1, conv2, downsample, norm1, norm2, skip
    _blocks: list[tuple[Any, ...]]
    _head: Any
    # with lookahead (lookahead_steps): the compiled step, the arena it runs on (made for
    # one state), and whether the arena holds the histories (else the conv streams do)
    _ahead: LookaheadStep | None = None
    _arena: tuple[Any, ChainHistories] | None = None
    _arena_live = False
    # the compiled step kept ready by ``_process`` for chunks like the last it took:
    # (layout, state, chunk shape but time, dtype, most samples, (B, C_in) of a chunk of
    # fewer dimensions or None, the step as a function of (x, finite_only))
    _ready: tuple[Any, ...] | None = None

    def __init__(self, model: TCN, batch: int | None = None, *, threads: int = 1) -> None:
        super().__init__(model, batch)
        self.threads = threads
        self._runner: ChainThreads | None = None
        self._closed = False

    @property
    def threads(self) -> int:
        """Threads of the causal TCN's compiled step: 1 (the calling thread) or 2."""
        return self._threads

    @threads.setter
    def threads(self, value: int) -> None:
        self._threads = integer(value, "threads", 1, MAX_THREADS)
        self._ready = None

    def close(self) -> None:
        """End the worker thread (``threads=2``); the stream takes no more chunks."""
        self._closed = True
        self._ready = None
        if self._runner is not None:
            self._runner.close()

    def __enter__(self) -> TCNStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fused(self) -> bool:
        """Bai et al.'s causal block with dilated convs: the fused chain; any other
        option, or kernel size 1: the Python runtime (``_run_blocks``)."""
        config = self.model.config
        return config["kernel_size"] > 1 and not set(config) & set(TCN_OPTIONS)

    def _bind(self, dtype: np.dtype) -> None:
        blocks = len(self.model.config["dilations"])
        if not self.fused():  # the engine's conv streams and matrix products
            ops, w = self.ops, self.w
            norms = [tuple((w[f"blocks.{i}.{n}.weight"], w[f"blocks.{i}.{n}.bias"])
                           if f"blocks.{i}.{n}.weight" in w else None
                           for n in ("norm1", "norm2")) for i in range(blocks)]
            self._blocks = [(ops[f"blocks.{i}.conv1"], ops[f"blocks.{i}.conv2"],
                             ops.get(f"blocks.{i}.downsample"), *norms[i], ops.get(f"skips.{i}"))
                            for i in range(blocks)]
            self._head = ops.get("head")
            self._ahead = None if not lookahead_steps(self.model.config) else \
                self.model.shared(("lookahead", dtype), self._lookahead_runtime)
            return
        w = self.w
        self._fused = [(f"blocks.{i}.conv1", f"blocks.{i}.conv2",
                        time_major_1x1(w, f"blocks.{i}.downsample")) for i in range(blocks)]
        self._head_tm = time_major_1x1(w, "head")
        convs, self._step = self.model.shared(("fused", dtype), self._fused_runtime)
        self._chain = FusedChain(convs, BLOCK)  # the stream's own input blocks
        self._bound = (None, None, None)  # a new dtype's chain: bind again

    def _lookahead_runtime(self) -> LookaheadStep:
        """The compiled step of a TCN with lookahead, in the bound dtype."""
        assert self._dtype is not None  # bound
        blocks = [(f"blocks.{i}.conv1", f"blocks.{i}.conv2", f"blocks.{i}.downsample",
                   self._delays.get(f"blocks.{i}.res_delay", (0, 0))[1])
                  for i in range(len(self.model.config["dilations"]))]
        return LookaheadStep(self.model.dilated_convs, blocks, self.w, self._dtype, BLOCK)

    def _arena_histories(self, batch: int) -> ChainHistories | None:
        """With lookahead, the arena of the compiled step: the conv streams' histories are
        copied into it once full (None before), and it holds them until ``_leave_arena``."""
        ahead = self._ahead
        if ahead is None:
            return None
        arena = self._arena
        if arena is None or arena[0] is not self.state:
            assert self._dtype is not None  # bound
            arena = self._arena = (self.state, ahead.new_state(batch, self._dtype))
            self._arena_live = False
        if not self._arena_live:
            if not ahead.enter(self._convs, self.state.delays, arena[1]):
                return None
            self._arena_live = True
        return arena[1]

    def _leave_arena(self) -> None:
        """With lookahead: the histories back from the compiled step's arena into the conv
        streams and delay lines, which every other path reads."""
        arena = self._arena
        if self._arena_live and arena is not None and arena[0] is self.state:
            assert self._ahead is not None  # (it made the arena)
            self._ahead.leave(arena[1], self._convs, self.state.delays)
        if self._arena_live:  # (a causal stream's ready step stays: it has no arena)
            self._ready = None
        self._arena_live = False

    def export_state(self) -> dict[str, np.ndarray]:
        self._leave_arena()  # (the conv streams' states follow this one's)
        return super().export_state()

    def __deepcopy__(self, memo: dict[int, Any]) -> TCNStream:
        self._leave_arena()  # the twin starts from the conv streams' states
        twin = cast(TCNStream, super().__deepcopy__(memo))
        twin._ready = None  # (bound to this stream's arrays)
        return twin

    def _fused_runtime(self) -> tuple[dict[str, FusedConv], ResidualChainStep]:
        """The fused convs and the compiled step in the bound dtype (the model keeps them
        for all its streams)."""
        dtype, convs = self._dtype, self.model.dilated_convs
        assert dtype is not None  # bound
        fused = {name: FusedConv(convs[name], dtype) for n1, n2, _ in self._fused
                 for name in (n1, n2)}
        blocks = [(n1, n2, down, 0) for n1, n2, down in self._fused]
        return fused, ResidualChainStep(FusedChain(fused, BLOCK), blocks, self._head_tm, dtype)

    def process(self, chunk: npt.ArrayLike) -> np.ndarray:
        """``Stream.process``. A chunk like the last one the compiled step took (same
        layout, state, dtype and shape but time, up to the budgeted samples) goes straight
        to it: the checks of the general path were made for such chunks, and at a sample
        per call each of them costs a visible part of the step. The step checks that the
        samples are finite; any other chunk, or one the step leaves alone (a NaN, a history
        not full), takes the general path (``_process``)."""
        ready = self._ready
        if ready is not None and type(chunk) is np.ndarray:
            layout, state, lead, dtype, most, rows, run = ready
            m = chunk.shape[-1]
            if chunk.dtype is dtype and 0 < m <= most and chunk.shape[:-1] == lead and \
                    layout is self.layout and state is self.state and not self.flushed:
                # the single-consumer guard (``single_consumer``), written out: a stream
                # in use by any call goes the guarded way
                me, slot = get_ident(), self.__dict__
                if "_user" not in slot and slot.setdefault("_user", me) == me:
                    try:
                        y = run(chunk if rows is None else chunk.reshape(rows + (m,)),
                                policy() == "refuse")
                    finally:
                        del slot["_user"]
                    if y is not None:
                        return y if rows is None else self.restore(y)
        return self._process(chunk)

    @single_consumer
    def _process(self, chunk: npt.ArrayLike) -> np.ndarray:
        """``process`` with the general checks: a chunk like one the layout already took
        as given, of up to ``STEP_SAMPLES`` samples, runs the compiled step (which is then
        kept ready for chunks like it); any other takes ``Stream.process``."""
        x = self._seen_view(chunk)
        if (x is not None and 0 < x.shape[-1] <= STEP_SAMPLES and not self.flushed
                and self._dtype is x.dtype and not self._closed and self._budgeted_for(x)):
            run = self._short_runner(x.shape[0])
            y = None if run is None else run(x, policy() == "refuse")
            if y is not None:
                assert self._budgeted is not None and isinstance(chunk, np.ndarray)
                self._ready = (self.layout, self.state, chunk.shape[:-1], x.dtype,
                               min(STEP_SAMPLES, self._budgeted[2]),
                               None if chunk.ndim == 3 else x.shape[:2], run)
                return self.restore(y)
        return super().process(chunk)

    def _short_runner(self, batch: int, direct: bool = True) -> StepRunner | None:
        """The compiled step (``ResidualChainStep``) on the stream's threads, or a TCN with
        lookahead's on its arena, as a function of ``(x, finite_only)`` that returns None
        where it leaves the chunk alone (see ``__call__``); None while there is no arena.
        ``direct``: bound to the kernel's compiled entry (``ResidualChainStep.bound``),
        worth its set-up for a step kept ready, not for one call."""
        if self._chain is None:
            ahead, arena = self._ahead, self._arena_histories(batch)
            return None if ahead is None or arena is None else \
                ahead.step.bound(arena, direct)
        one = self._step.bound(self.state.histories, direct)
        if self.threads == 1:
            return one
        if self._runner is None:
            self._runner = ChainThreads()
        runner, step, histories = self._runner, self._step, self.state.histories
        return lambda x, finite_only: one(x, finite_only) if x.shape[2] < TWO_THREAD_SAMPLES \
            else runner(step, x, histories, finite_only)

    def _run(self, x: np.ndarray, **cond: np.ndarray) -> np.ndarray:  # (no conditioning)
        if self._closed:
            raise ValueError("this stream was closed (close()): make a new stream")
        if self._chain is not None:
            return self._run_fused(x)
        ahead = self._ahead
        if ahead is not None and x.shape[-1] and not self._final:  # once the histories fill
            histories = self._arena_histories(x.shape[0])
            if histories is not None:
                y = ahead.step(x, histories) if x.shape[-1] <= STEP_SAMPLES else None
                return ahead.run(x, histories) if y is None else y
        self._leave_arena()
        return self._run_blocks(x)

    def _run_blocks(self, x: np.ndarray) -> np.ndarray:
        """Every option, each conv an engine stream (lookahead held back) or a product;
        the branches wait in their delay lines (none when causal)."""
        model = self.model
        act, gate = model.option("activation"), model.option("gate")
        with_skips = model.option("skip_connections")
        skips = None
        for i, (conv1, conv2, downsample, norm1, norm2, skip) in enumerate(self._blocks):
            h = conv1(x)
            if norm1 is not None:
                h = layer_norm(h, *norm1)
            h = glu(h) if gate else activate(act, h)
            h = conv2(h)
            if norm2 is not None:
                h = layer_norm(h, *norm2)
            h = activate(act, h)
            residual = self.delay(f"blocks.{i}.res_delay", x if downsample is None else
                                  downsample(x))
            if with_skips and i < len(self._blocks) - 1:
                s = self.delay(f"skip_delays.{i}", h if skip is None else skip(h))
                skips = s.copy() if skips is None else skips + s
            x = activate(act, h + residual)
        if skips is not None:
            x = activate(act, skips + x)
        if self._head is not None:
            x = self._head(x)
        out = model.option("output_activation")
        return x if out is None else activate(out, x)

    def _make_plan(self, convs: dict, histories: dict, inputs: dict) -> list[tuple]:
        """Per block: its two convs with their histories and input blocks, and its
        downsample (``residual_blocks``'s plan: causal, no wait)."""
        return [(convs[n1], histories[n1], inputs[n1], convs[n2], histories[n2], inputs[n2],
                 downsample, 0, None) for n1, n2, downsample in self._fused]

    def _run_fused(self, x: np.ndarray) -> np.ndarray:
        batch, _, m = x.shape
        if m <= STEP_SAMPLES:  # short chunks: the whole chain in one compiled call
            run = self._short_runner(batch, direct=False)
            y = None if run is None else run(x, False)
            if y is not None:
                return y
        return residual_blocks(self._plan(batch, m, x.dtype), x, self._head_tm)
