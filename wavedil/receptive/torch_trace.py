"""Spec trees of arbitrary ``torch.nn.Module``s, found by tracing (torch is imported lazily).

``trace_spec(model)`` follows the input along the time axis through the model's graph:

1. ``torch.fx`` symbolic tracing, with the standard layers kept whole (Conv1d,
   ConvTranspose1d, pooling, pads, norms, activations, recurrent and attention layers) and
   everything else traced through, so custom convs (pytorch-tcn's ``TemporalConv1d``,
   weight-normed layers) are seen down to ``F.pad`` and ``F.conv1d``.
2. The graph is run at two input lengths; an axis whose size changes is the time axis.
   This tells a reduction over time (the time axis disappears) from one over channels.
3. Each operation becomes a ``LayerSpec`` (conv, pool, transposed conv), a ``Shift`` (pad,
   crop) or nothing (element-wise), and the graph becomes a spec tree: joins (residual
   adds, skip sums, concatenations over channels) become ``Branches`` around the paths from
   their immediate dominator.
4. Where symbolic tracing fails (Python control flow on tensors or shapes), the module's
   outermost sub-modules are recorded with forward hooks in call order, traced one by one
   and chained; a note says so, since the parent's own operations are then not seen.

Any other operation that keeps the time length (activations, arithmetic, reshapes of other
axes, 1x1 work over channels) is taken as element-wise along time; one that changes the
time length in another way (e.g. interpolation) or concatenates along time is an error
naming the layer.

Operations that mix the whole time axis (GroupNorm, InstanceNorm, LayerNorm over time,
BatchNorm in training mode, adaptive or global pooling, softmax over time, attention,
recurrent layers) do not limit the conv extent; they are kept as identities and named in
``notes``: for such a model the conv extent is not the whole story.

Shape: ``example_input`` is what the model takes, with time on the last axis (default
``(1, C_in, length)`` with ``C_in`` of the first Conv1d).
"""

from __future__ import annotations

import inspect
import operator
from dataclasses import dataclass
from typing import Any

from ..engine.spec import Branches, Chain, LayerSpec, Shift


@dataclass(frozen=True)
class TracedSpec:
    """A traced model: its spec tree, what the tracer noticed, and how it traced."""

    spec: object
    notes: tuple[str, ...]
    method: str  # "fx" or "hooks"

    def __repr__(self) -> str:
        return f"TracedSpec(method={self.method!r}, notes={len(self.notes)}, spec={self.spec!r})"


def trace_spec(model: Any, example_input: Any = None, length: int = 4096) -> TracedSpec:
    """The spec tree of ``model`` along the time axis of its first input (see module doc)."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    x1 = _example(model, example_input, length)
    x2 = _longer(x1)
    notes: list[str] = []
    with torch.no_grad():
        spec, method = _trace(model, (x1,), (x2,), "", notes)
    if not _has_layers(spec):
        raise ValueError(f"{type(model).__name__} has no conv or pooling layer on the time "
                         "path of its input: no receptive field to report")
    return TracedSpec(spec, tuple(dict.fromkeys(notes)), method)


def _example(model, example_input, length):
    import torch

    if example_input is not None:
        if not isinstance(example_input, torch.Tensor) or example_input.ndim < 1:
            raise TypeError(f"example_input must be a tensor with time on the last axis, got "
                            f"{type(example_input).__name__}")
        return example_input
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
            p = next(m.parameters(), None)
            dtype = p.dtype if p is not None else torch.float32
            return torch.randn(1, m.in_channels, int(length), dtype=dtype)
    raise ValueError(f"{type(model).__name__} has no Conv1d/ConvTranspose1d layer: give "
                     "example_input= to trace it")


def _longer(x):
    import torch

    extra = torch.randn(x.shape[:-1] + (x.shape[-1],), dtype=x.dtype, device=x.device)
    return torch.cat([x, extra], dim=-1)


def _has_layers(tree) -> bool:
    if isinstance(tree, LayerSpec):
        return True
    return isinstance(tree, (Chain, Branches)) and any(_has_layers(p) for p in tree.parts)


# -- tracing a module ---------------------------------------------------------------------


def _leaf_types():
    import torch.nn as nn

    return (nn.Conv1d, nn.ConvTranspose1d, nn.MaxPool1d, nn.AvgPool1d, nn.LPPool1d,
            nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d, nn.ConstantPad1d, nn.ZeroPad1d,
            nn.ReflectionPad1d, nn.ReplicationPad1d, nn.CircularPad1d, nn.BatchNorm1d,
            nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm1d, nn.Linear, nn.Identity,
            nn.RNN, nn.LSTM, nn.GRU, nn.MultiheadAttention, nn.Softmax, nn.LogSoftmax,
            nn.Dropout, nn.Dropout1d, nn.AlphaDropout, nn.ReLU, nn.ReLU6, nn.LeakyReLU,
            nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Tanh,
            nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Softsign,
            nn.Tanhshrink, nn.GLU, nn.Threshold)


def _trace(module, args1, args2, path, notes):
    """``(spec, method)`` of ``module`` called with ``args1`` (and ``args2``, longer)."""
    import torch.fx as fx

    leaves = _leaf_types()

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m, qualified_name):
            return type(m) in leaves

    try:
        others = other_args(module, len(args1))
        graph = Tracer().trace(module, concrete_args=others)
        gm = fx.GraphModule(module, graph)
        shapes1 = _run(gm, args1 + tuple(others.values()))
        shapes2 = _run(gm, args2 + tuple(others.values()))
    except Exception as error:  # fx cannot follow this forward: use hooks instead
        return _trace_by_hooks(module, args1, args2, path, notes, error), "hooks"
    return _GraphWalk(gm, shapes1, shapes2, path, notes).spec(), "fx"


def other_args(module: Any, given: int) -> dict:
    """The forward's parameters after the ``given`` tensors: their defaults, else None."""
    params = list(inspect.signature(module.forward).parameters.values())[given:]
    return {p.name: None if p.default is inspect.Parameter.empty else p.default
            for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _run(gm, args):
    """Run ``gm`` on ``args``; return ``{node: shape}`` (lists for tuple outputs)."""
    import torch.fx as fx

    shapes = {}

    class Recorder(fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            shapes[n] = _shape_of(out)
            return out

    Recorder(gm).run(*args)
    return shapes


def _shape_of(value):
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)):
        return [_shape_of(v) for v in value]
    return None


def _trace_by_hooks(module, args1, args2, path, notes, error):
    name = path or type(module).__name__
    own = getattr(module, "spec", None)
    if isinstance(own, (LayerSpec, Shift, Chain, Branches)):  # a wavedil torch module
        notes.append(f"torch.fx could not trace {name} ({type(error).__name__}: "
                     f"{_first_line(error)}); used its own .spec")
        return own
    calls1, calls2 = _outermost_calls(module, args1), _outermost_calls(module, args2)
    if not calls1 or [c[0] for c in calls1] != [c[0] for c in calls2]:
        raise ValueError(f"cannot trace {name} ({type(module).__name__}): torch.fx failed "
                         f"({type(error).__name__}: {_first_line(error)}) and it calls no "
                         "sub-module that forward hooks could follow") from None
    parts = []
    for (child_path, child, a1), (_, _, a2) in zip(calls1, calls2):
        full = f"{path}.{child_path}" if path else child_path
        parts.append(_trace(child, a1, a2, full, notes)[0])
    children = ", ".join(c[0] for c in calls1)
    notes.append(f"torch.fx could not trace {name} ({type(error).__name__}: "
                 f"{_first_line(error)}); used forward hooks instead: its sub-modules "
                 f"[{children}] are taken as one chain in call order, and operations in "
                 f"its own forward (functional pads, crops, residual adds) are not seen")
    return Chain(tuple(parts))


def _first_line(error) -> str:
    text = str(error).strip().splitlines()
    return text[0][:120] if text else ""


def _outermost_calls(module, args):
    """``[(path, submodule, tensor args), ...]`` of the outermost sub-module calls."""
    import torch

    calls, depth, handles = [], [0], []

    def pre(name, m):
        def hook(_m, inputs):
            if depth[0] == 0:  # the first argument carries the signal; others default
                calls.append((name, m, tuple(inputs[:1])))
            depth[0] += 1
        return hook

    def post(_m, _inputs, _output):
        depth[0] -= 1

    for name, m in module.named_modules():
        if m is not module:
            handles.append(m.register_forward_pre_hook(pre(name, m)))
            handles.append(m.register_forward_hook(post))
    try:
        module(*args, **other_args(module, len(args)))
    finally:
        for h in handles:
            h.remove()
    return [(n, m, a) for n, m, a in calls if a and isinstance(a[0], torch.Tensor)]


# -- from a graph to a spec tree ----------------------------------------------------------


class _GraphWalk:
    """Classify the nodes of a traced graph and build the spec tree of the time path."""

    def __init__(self, gm, shapes1, shapes2, path, notes):
        self.gm, self.s1, self.s2, self.path, self.notes = gm, shapes1, shapes2, path, notes
        self.time = {}  # node -> time axis of its tensor output
        self.preds = {}  # time-path node -> time-path inputs
        self.op = {}  # time-path node -> LayerSpec / Shift / Chain / None
        self.global_nodes = set()  # depend on the input but have no time axis

    def spec(self):
        nodes = list(self.gm.graph.nodes)
        placeholders = [n for n in nodes if n.op == "placeholder"]
        source = placeholders[0]
        self.time[source] = self._time_axis(source)
        self.preds[source], self.op[source] = [], None
        sink = None
        for n in nodes[1:]:
            if n.op == "output":
                sink = n
                outs = [a for a in _flat(n.args) if a in self.preds]
                if not outs:
                    raise ValueError(f"{self._where(n)}: no output of the model depends on "
                                     "its input along the time axis")
                self.preds[n], self.op[n] = list(dict.fromkeys(outs)), None
            elif n.op in ("call_module", "call_function", "call_method"):
                self._visit(n)
        return self._tree(source, sink)

    # -- per node -------------------------------------------------------------------------
    def _where(self, n) -> str:
        stack = n.meta.get("nn_module_stack") or {}
        scope = next(reversed(stack.values()))[0] if stack else ""
        if n.op == "call_module":
            scope = n.target
        name = ".".join(p for p in (self.path, scope) if p)
        return f"{name} ({self._target_name(n)})" if name else self._target_name(n)

    def _target_name(self, n) -> str:
        if n.op == "call_module":
            return type(self.gm.get_submodule(n.target)).__name__
        return getattr(n.target, "__name__", str(n.target))

    def _time_axis(self, n):
        a, b = self.s1.get(n), self.s2.get(n)
        if not isinstance(a, tuple) or not isinstance(b, tuple):
            return None
        if len(a) != len(b):
            raise ValueError(f"{self._where(n)}: output rank changes with the input length "
                             f"({a} vs {b})")
        axes = [i for i, (u, v) in enumerate(zip(a, b)) if u != v]
        if len(axes) > 1:
            raise ValueError(f"{self._where(n)}: several axes follow the input length "
                             f"({a} vs {b}); cannot tell the time axis")
        return axes[0] if axes else None

    def _visit(self, n):
        inputs = [a for a in _flat((n.args, n.kwargs)) if hasattr(a, "op")]
        timed = list(dict.fromkeys(a for a in inputs if a in self.preds))
        mixed_in = [a for a in inputs if a in self.global_nodes]
        if not timed:
            if mixed_in:
                self.global_nodes.add(n)
            return
        record = self.s1.get(n)
        if not _holds_tensor(record):
            return  # sizes, flags: metadata, not signal
        if isinstance(record, list):  # a tuple of tensors; getitem picks from it
            self.preds[n], self.op[n], self.time[n] = timed, None, None
            return
        t_out = self._time_axis(n)
        if n.op == "call_function" and n.target is operator.getitem and \
                not isinstance(self.s1.get(n.args[0]), tuple):
            t_out = self._time_axis(n.args[0]) if t_out is None else t_out
            self.preds[n], self.op[n], self.time[n] = [n.args[0]], None, t_out
            return  # an element of a tuple output (e.g. a block returning (x, skip))
        if t_out is None:
            self.global_nodes.add(n)
            self.notes.append(f"{self._where(n)} reduces over the whole time axis; whatever "
                              "uses its result depends on every input sample")
            return
        if mixed_in:
            self.notes.append(f"{self._where(n)} combines the signal with a value computed "
                              "over the whole time axis (e.g. global pooling or a norm)")
        self.time[n] = t_out
        t_in = self.time[timed[0]]
        self.preds[n] = timed
        self.op[n] = _classify(self, n, t_in)

    # -- dominators and the tree ------------------------------------------------------------
    def _tree(self, source, sink):
        order = {n: i for i, n in enumerate(self.preds)}
        idom = {source: source}

        def meet(a, b):
            while a is not b:
                while order[a] > order[b]:
                    a = idom[a]
                while order[b] > order[a]:
                    b = idom[b]
            return a

        for n, ps in self.preds.items():
            if n is not source:
                dom = ps[0]
                for p in ps[1:]:
                    dom = meet(p, dom)
                idom[n] = dom
        memo: dict = {}

        def rel(n, d):
            key = (n, d)
            if key in memo:
                return memo[key]
            parts, node = [], n
            while node is not d:
                if self.op[node] is not None:
                    parts.append(self.op[node])
                ps = self.preds[node]
                if len(ps) == 1:
                    node = ps[0]
                    continue
                m = idom[node]
                parts.append(Branches(tuple(rel(p, m) for p in ps)))
                node = m
            memo[key] = Chain(tuple(reversed(parts)))
            return memo[key]

        return rel(sink, source)


def _holds_tensor(record) -> bool:
    if isinstance(record, tuple):
        return True
    return isinstance(record, list) and any(_holds_tensor(r) for r in record)


def _flat(obj):
    if isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _flat(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _flat(o)
    else:
        yield obj


def _arg(n, index, name, default=None):
    if len(n.args) > index:
        return n.args[index]
    return n.kwargs.get(name, default)


def _axis(dim, ndim):
    return None if dim is None else (dim + ndim if dim < 0 else dim)


# -- what one operation does to the time axis --------------------------------------------


_MIXING_MODULES = ("GroupNorm", "InstanceNorm1d", "RNN", "LSTM", "GRU", "MultiheadAttention",
                   "AdaptiveAvgPool1d", "AdaptiveMaxPool1d")
_MIXING_FUNCTIONS = ("group_norm", "instance_norm", "adaptive_avg_pool1d",
                     "adaptive_max_pool1d", "scaled_dot_product_attention", "cumsum",
                     "cumprod", "flip", "roll", "sort", "argsort", "fft", "rfft", "irfft",
                     "bmm", "matmul", "einsum", "baddbmm")
_DIM_FUNCTIONS = ("softmax", "log_softmax", "glu", "normalize", "cumsum", "cumprod")


def _classify(walk, n, t_in):
    """LayerSpec / Shift / Chain / None (identity) for node ``n``; notes for mixing ops."""
    import torch.nn as nn

    where = walk._where(n)
    shape_in = walk.s1.get(n.args[0]) if n.args and hasattr(n.args[0], "op") else None
    ndim = len(shape_in) if isinstance(shape_in, tuple) else None
    name = walk._target_name(n)
    if n.op == "call_module":
        m = walk.gm.get_submodule(n.target)
        if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
            _need_last(walk, n, t_in, ndim)
            return _conv_spec(where, m.weight.shape, m.kernel_size[0], m.dilation[0],
                              m.stride[0], m.padding if isinstance(m.padding, str)
                              else m.padding[0], m.groups, m.bias is not None,
                              isinstance(m, nn.ConvTranspose1d), m.padding_mode, walk.notes)
        if isinstance(m, (nn.MaxPool1d, nn.AvgPool1d, nn.LPPool1d)):
            _need_last(walk, n, t_in, ndim)
            k = _one(m.kernel_size)
            stride = _one(m.stride) if m.stride else k
            pad = _one(getattr(m, "padding", 0))
            dil = _one(getattr(m, "dilation", 1))
            return _pool_spec(where, k, dil, stride, pad)
        if isinstance(m, (nn.ConstantPad1d, nn.ZeroPad1d, nn.ReflectionPad1d,
                          nn.ReplicationPad1d, nn.CircularPad1d)):
            _need_last(walk, n, t_in, ndim)
            if not isinstance(m, (nn.ConstantPad1d, nn.ZeroPad1d)):
                walk.notes.append(f"{where} pads by {name}: exact inside the signal, the "
                                  "edges read mirrored/wrapped samples")
            return Shift(-m.padding[0], where) if m.padding[0] else None
        if type(m).__name__ in _MIXING_MODULES or (
                isinstance(m, nn.LayerNorm) and t_in >= ndim - len(m.normalized_shape)) or (  # type: ignore[operator]
                isinstance(m, nn.Linear) and t_in == ndim - 1) or (  # type: ignore[operator]
                isinstance(m, nn.BatchNorm1d) and m.training and m.track_running_stats
                and _training_note(walk, where)) or (
                isinstance(m, (nn.Softmax, nn.LogSoftmax)) and _axis(m.dim, ndim) == t_in):
            return _mixes(walk, where)
        return None
    fname = name
    if fname in ("conv1d", "conv_transpose1d"):
        _need_last(walk, n, t_in, ndim)
        w = walk.s1[n.args[1]]
        transposed = fname == "conv_transpose1d"
        if transposed:
            stride, pad, _, groups, dil = (_one(_arg(n, i, k, d)) for i, k, d in (
                (3, "stride", 1), (4, "padding", 0), (5, "output_padding", 0),
                (6, "groups", 1), (7, "dilation", 1)))
        else:
            stride, pad, dil, groups = (_arg(n, i, k, d) for i, k, d in (
                (3, "stride", 1), (4, "padding", 0), (5, "dilation", 1), (6, "groups", 1)))
            stride, dil = _one(stride), _one(dil)
            pad = pad if isinstance(pad, str) else _one(pad)
        return _conv_spec(where, w, w[-1], dil, stride, pad, groups,
                          _arg(n, 2, "bias") is not None, transposed, "zeros", walk.notes)
    if fname in ("max_pool1d", "avg_pool1d", "max_pool1d_with_indices"):
        _need_last(walk, n, t_in, ndim)
        k = _one(_arg(n, 1, "kernel_size"))
        stride = _one(_arg(n, 2, "stride") or k)
        pad = _one(_arg(n, 3, "padding", 0))
        dil = _one(_arg(n, 4, "dilation", 1)) if fname != "avg_pool1d" else 1
        return _pool_spec(where, k, dil, stride, pad)
    if fname == "pad":
        pads = list(_arg(n, 1, "pad"))
        j = ndim - 1 - t_in  # type: ignore[operator]
        if 2 * j + 1 >= len(pads):
            return None
        mode = _arg(n, 2, "mode", "constant")
        if mode != "constant":
            walk.notes.append(f"{where} pads in {mode!r} mode: exact inside the signal, the "
                              "edges read mirrored/wrapped samples")
        return Shift(-int(pads[2 * j]), where) if pads[2 * j] else None
    if n.op == "call_function" and n.target is operator.getitem:
        return _slice_spec(walk, n, t_in, ndim, where)
    if fname == "narrow" or (n.op == "call_method" and n.target == "narrow"):
        if _axis(_arg(n, 1, "dim"), ndim) == t_in:
            start = _arg(n, 2, "start")
            return Shift(int(start), where) if start else None
        return None
    if fname in ("cat", "concat", "concatenate", "stack"):
        dim = _arg(n, 1, "dim", 0)
        first = walk.s1.get(n.args[0][0])
        if fname != "stack" and _axis(dim, len(first)) == walk.time[n.args[0][0]]:
            raise ValueError(f"cannot trace {where}: it concatenates along the time axis")
        return None
    if fname in ("layer_norm",):
        normalized = _arg(n, 1, "normalized_shape")
        if t_in >= ndim - len(normalized):  # type: ignore[operator]
            return _mixes(walk, where)
        return None
    if fname in ("batch_norm",) and _arg(n, 5, "training", False):
        _training_note(walk, where)
    if fname == "linear" and t_in == ndim - 1:  # type: ignore[operator]
        return _mixes(walk, where)
    if fname in _DIM_FUNCTIONS and _axis(_arg(n, 1, "dim"), ndim) == t_in:
        return _mixes(walk, where)
    if fname in _MIXING_FUNCTIONS:
        return _mixes(walk, where)
    for a, b in ((n.args[0], n),):
        if hasattr(a, "op") and isinstance(walk.s1.get(a), tuple) and \
                walk.time.get(a) is not None and walk.s1[a][walk.time[a]] != \
                walk.s1[b][walk.time[b]]:
            raise ValueError(f"cannot trace {where}: it changes the time length "
                             f"({walk.s1[a]} -> {walk.s1[b]}) in a way wavedil cannot follow")
    return None  # element-wise along time


def _training_note(walk, where) -> bool:
    walk.notes.append(f"{where} is a BatchNorm in training mode: it normalises with "
                      "statistics over the whole time axis (call model.eval() first)")
    return False


def _need_last(walk, n, t_in, ndim):
    if t_in != ndim - 1:
        raise ValueError(f"cannot trace {walk._where(n)}: it convolves the last axis but "
                         f"time is axis {t_in} of {ndim}")


def _one(v):
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise ValueError(f"expected one value per time axis, got {v!r}")
        v = v[0]
    return int(v)


def _mixes(walk, where):
    walk.notes.append(f"{where} mixes the whole time axis (a norm, pooling, attention or "
                      "recurrence over time): its output depends on every input sample, "
                      "beyond the conv extent reported")
    return None


def _conv_spec(where, weight_shape, k, dil, stride, pad, groups, bias, transposed,
               padding_mode, notes):
    span = (k - 1) * dil
    if transposed:
        c_in, c_out = weight_shape[0], weight_shape[1] * groups
    else:
        c_out, c_in = weight_shape[0], weight_shape[1] * groups
    if isinstance(pad, str):
        if pad == "same":
            pad = span // 2
        elif pad == "valid":
            pad = 0
        else:
            raise ValueError(f"cannot trace {where}: unknown padding {pad!r}")
    if padding_mode not in ("zeros",):
        notes.append(f"{where} pads in {padding_mode!r} mode: exact inside the signal, the "
                     "edges read mirrored/wrapped samples")
    kind = "transposed" if transposed else "conv"
    # conv: output n reads n*stride - pad + t*dil; transposed: lags pad - t*dil (output grid)
    near = pad if not transposed else span - pad
    left = min(max(near, 0), span)
    spec = LayerSpec(k, dil, stride, left, span - left, c_in, c_out, groups, where, kind, bias)
    excess = near - left  # padding beyond the span: a plain shift
    if not excess:
        return spec
    if transposed:
        return Chain((spec, Shift(excess, where)))
    return Chain((Shift(-excess, where), spec))


def _pool_spec(where, k, dil, stride, pad):
    span = (k - 1) * dil
    left = min(pad, span)
    spec = LayerSpec(k, dil, stride, left, span - left, name=where, kind="pool", bias=False)
    return spec if pad <= span else Chain((Shift(span - pad, where), spec))


def _slice_spec(walk, n, t_in, ndim, where):
    index = n.args[1]
    index = index if isinstance(index, tuple) else (index,)
    explicit = sum(1 for i in index if i is not Ellipsis and i is not None)
    axis, consumed = 0, []
    for i in index:
        if i is Ellipsis:
            axis += ndim - explicit
        elif i is None:
            continue
        else:
            consumed.append((axis, i))
            axis += 1
    for ax, item in consumed:
        if ax != t_in:
            continue
        if not isinstance(item, slice):
            raise ValueError(f"cannot trace {where}: it indexes the time axis with {item!r}")
        step = 1 if item.step is None else int(item.step)
        start = 0 if item.start is None else int(item.start)
        if start < 0:
            length1 = walk.s1[n.args[0]][t_in]
            length2 = walk.s2[n.args[0]][t_in]
            if length1 + start != length2 + start:
                raise ValueError(f"cannot trace {where}: it slices the time axis from the end "
                                 f"({item}), so the shift depends on the input length")
        parts = []
        if start:
            parts.append(Shift(start, where))
        if step != 1:
            parts.append(LayerSpec(1, 1, step, name=where, kind="pool", bias=False))  # type: ignore[arg-type]
        return Chain(tuple(parts)) if parts else None
    return None

