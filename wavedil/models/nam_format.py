"""The Neural Amp Modeler file (``.nam``): read and check it, no model classes.

A ``.nam`` file is JSON: ``version``, ``architecture``, ``config``, a flat ``weights``
list, ``sample_rate`` (optional) and ``metadata``. ``read_nam(path)`` parses one,
``parse_nam(dict)`` checks it and returns ``(architecture, config, params, info)``:
the config in the form ``wavedil.models.nam.NAM`` (or ``NAMLinear``) takes, the weights cut
into named arrays in the PyTorch layout, and the file's ``version``, ``sample_rate`` and
``metadata``.

Both WaveNet formats are read: the older one (file versions 0.5.x: per layer array
``head_size``, ``head_bias``, ``gated``, one ``kernel_size``) and today's (0.6 and 0.7:
``head``, ``kernel_sizes``, ``bottleneck``, per-layer ``activation`` / ``gating_mode`` /
``secondary_activation``, ``layer1x1``, ``head1x1``, FiLM flags), and the ``Linear``
architecture. What this package does not run is refused with a ``ValueError`` that names
it: other architectures (LSTM, ...), active FiLM, slimmable or packed layer arrays, a
condition DSP, grouped convolutions, an input or output of more than one channel.

Nothing in a file runs code (no pickle, no names looked up in a module: activations come
from a fixed table), and nothing is allocated from a file's numbers before they are
checked: the weight count the config implies must equal the length of ``weights``, and
the histories a stream would keep are bounded (``MAX_HISTORY``).

Weight order (NAM's): per layer array its rechannel, then per layer the dilated conv
(weight, bias), the input mixin, the ``layer1x1`` and the ``head1x1`` (weight, bias, when
active), then the head rechannel; then the head's convs; ``head_scale`` last.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ..engine.params import finite_number
from .file import open_regular_file
from .nam_activations import GATING, check_activation

VERSIONS = ("0.5", "0.6", "0.7")  # file format versions read (major.minor)
MAX_NAM_BYTES = 64 << 20  # the largest .nam file read (a JSON text)
MAX_RECEPTIVE_FIELD = 1 << 20  # samples
MAX_HISTORY = 1 << 24  # samples x channels kept by a stream's histories (batch 1)
FILM_KEYS = ("conv_pre_film", "conv_post_film", "input_mixin_pre_film",
             "input_mixin_post_film", "activation_pre_film", "activation_post_film",
             "layer1x1_post_film", "head1x1_post_film")
OLD_KEYS = {"input_size", "condition_size", "head_size", "channels", "kernel_size",
            "dilations", "activation", "gated", "head_bias"}
# a layer array in NAM's form: "channels" and "dilations", then these (defaults)
ARRAY_DEFAULTS: dict[str, Any] = {
    "input_size": 1, "condition_size": 1, "bottleneck": None, "kernel_sizes": 3,
    "activations": "Tanh", "layer1x1": True, "head1x1": 0, "head_size": 1,
    "head_kernel_size": 1, "head_bias": True}
NEW_KEYS = {"input_size", "condition_size", "head", "channels", "bottleneck", "kernel_size",
            "kernel_sizes", "dilations", "activation", "gating_mode", "secondary_activation",
            "head1x1", "layer1x1", "groups_input", "groups_input_mixin", "slimmable",
            "packing", *FILM_KEYS}


def read_nam(path: str | os.PathLike[str]) -> tuple[str, dict, dict[str, np.ndarray], dict]:
    """``parse_nam`` of the JSON file ``path`` (errors name the file)."""
    with open_regular_file(os.fspath(path)) as file:  # a FIFO or device is refused
        text = file.read(MAX_NAM_BYTES + 1)
    if len(text) > MAX_NAM_BYTES:
        raise ValueError(f"{path}: a .nam file over {MAX_NAM_BYTES} bytes "
                         f"(wavedil.models.nam_format.MAX_NAM_BYTES); the largest shared "
                         f"captures are under 1 MB")
    try:
        data = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"{path}: not a .nam file (not JSON: {error})") from None
    try:
        return parse_nam(data)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def parse_nam(data: Any) -> tuple[str, dict, dict[str, np.ndarray], dict]:
    """``(architecture, config, params, info)`` of a ``.nam`` dict, checked (module
    docstring); ``architecture`` is ``"WaveNet"`` or ``"Linear"``."""
    if not isinstance(data, dict) or "architecture" not in data or "weights" not in data:
        raise ValueError("not a .nam file: expected a JSON object with 'architecture', "
                         "'config' and 'weights'")
    version = data.get("version")
    if not isinstance(version, str) or ".".join(version.split(".")[:2]) not in VERSIONS:
        raise ValueError(f"file format version {version!r} is not read here (versions "
                         f"{', '.join(v + '.x' for v in VERSIONS)})")
    architecture, config = data["architecture"], data.get("config")
    if architecture not in ("WaveNet", "Linear"):
        raise ValueError(f"the {architecture!r} architecture is not supported (WaveNet and "
                         f"Linear are)")
    if not isinstance(config, dict):
        raise ValueError(f"'config' must be a JSON object, got {config!r}")
    weights = _weights(data["weights"])
    rate = data.get("sample_rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))
                             or not rate > 0):
        raise ValueError(f"sample_rate must be a positive number, got {rate!r}")
    metadata = data.get("metadata")
    info: dict[str, Any] = {"version": version,
                            "sample_rate": None if rate is None else float(rate),
                            "metadata": metadata if isinstance(metadata, dict) else {}}
    if architecture == "Linear":
        config, shapes = _linear(config)
    else:
        config, shapes = _wavenet(config)
    params = _cut(weights, shapes, architecture)
    if architecture == "WaveNet":
        tail = float(weights[-1])  # NAM keeps the config's head_scale unless the weights'
        if abs(tail - config["head_scale"]) > 1e-5:  # differs by more than 1e-5
            config["head_scale"] = tail
    return architecture, config, params, info


def _weights(weights: Any) -> np.ndarray:
    if not isinstance(weights, list) or not all(
            type(w) in (int, float) for w in weights):
        raise ValueError("'weights' must be a flat list of numbers")
    array = np.array(weights, np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError("'weights' holds non-finite values")
    return array


def _int(value: Any, name: str, low: int = 1, high: int = 1 << 16) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return value


def _ints(value: Any, name: str, count: int | None, high: int) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool) and count is not None:
        value = [value] * count
    if not isinstance(value, list) or not value or (count is not None and len(value) != count):
        raise ValueError(f"{name} must be a list of {count or 'one or more'} integers, "
                         f"got {value!r}")
    return [_int(v, f"{name}[{i}]", 1, high) for i, v in enumerate(value)]


def _linear(config: dict) -> tuple[dict, dict[str, tuple[int, ...]]]:
    extra = sorted(set(config) - {"receptive_field", "bias"})
    if extra:
        raise ValueError(f"Linear: unknown config keys {extra}")
    rf = _int(config.get("receptive_field"), "receptive_field", 1, MAX_RECEPTIVE_FIELD)
    bias = config.get("bias", False)
    if not isinstance(bias, bool):
        raise ValueError(f"Linear: bias must be true or false, got {bias!r}")
    shapes: dict[str, tuple[int, ...]] = {"weight": (1, 1, rf)}
    if bias:
        shapes["bias"] = (1,)
    return {"receptive_field": rf, "bias": bias}, shapes


def _wavenet(config: dict) -> tuple[dict, dict[str, tuple[int, ...]]]:
    if config.get("condition_dsp") is not None:
        raise ValueError("a condition DSP (config 'condition_dsp') is not supported")
    extra = sorted(set(config) - {"layers", "head", "head_scale", "condition_dsp"})
    if extra:
        raise ValueError(f"WaveNet: unknown config keys {extra}")
    arrays = config.get("layers")
    if not isinstance(arrays, list) or not arrays:
        raise ValueError("WaveNet: 'layers' must be a non-empty list of layer arrays")
    scale = config.get("head_scale", 1.0)
    if not finite_number(scale):
        raise ValueError(f"WaveNet: head_scale must be a finite number, got {scale!r}")
    out = normalized([layer_array(a, f"layers[{i}]") for i, a in enumerate(arrays)],
                     None if config.get("head") is None else head(config["head"]), scale)
    return out, wavenet_shapes(out)


def normalized(layer_arrays: Any, head_config: Any = None,
               head_scale: Any = 1.0) -> dict[str, Any]:
    """A WaveNet config in ``NAM``'s form (``ARRAY_DEFAULTS`` filled in), checked."""
    if not isinstance(layer_arrays, list) or not layer_arrays:
        raise ValueError(f"layer_arrays must be a non-empty list, got {layer_arrays!r}")
    if not finite_number(head_scale):
        raise ValueError(f"head_scale must be a finite number, got {head_scale!r}")
    arrays, previous = [], 1
    for i, a in enumerate(layer_arrays):
        where = f"layer array {i}"
        if not isinstance(a, dict) or set(a) - set(ARRAY_DEFAULTS) - {"channels", "dilations"}:
            raise ValueError(f"{where}: expected keys 'channels', 'dilations' and optionally "
                             f"{sorted(ARRAY_DEFAULTS)}, got {a!r}")
        dilations = _ints(a.get("dilations"), f"{where}.dilations", None, MAX_RECEPTIVE_FIELD)
        n, channels = len(dilations), _int(a.get("channels"), f"{where}.channels")
        out = {**ARRAY_DEFAULTS, "input_size": previous, "bottleneck": channels, **a,
               "channels": channels, "dilations": dilations}
        for key in ("input_size", "condition_size", "bottleneck", "head_size"):
            out[key] = _int(out[key], f"{where}.{key}")
        out["kernel_sizes"] = _ints(out["kernel_sizes"], f"{where}.kernel_sizes", n, 4096)
        out["head_kernel_size"] = _int(out["head_kernel_size"], f"{where}.head_kernel_size",
                                       1, 4096)
        out["head1x1"] = _int(out["head1x1"], f"{where}.head1x1", 0)
        for key in ("layer1x1", "head_bias"):
            out[key] = _bool(out[key], f"{where}.{key}")
        acts = out["activations"]
        acts = acts if isinstance(acts, list) else [acts] * n
        if len(acts) != n:
            raise ValueError(f"{where}: expected {n} activations (one per layer), got "
                             f"{len(acts)}")
        out["activations"] = [_layer_activation(act, f"{where}.activations[{j}]")
                              for j, act in enumerate(acts)]
        arrays.append(out)
        previous = channels
    config = {"layer_arrays": arrays,
              "head": None if head_config is None else head(dict(head_config)),
              "head_scale": float(head_scale)}
    check_plan(config)
    return config


def _layer_activation(spec: Any, where: str) -> dict[str, Any]:
    if isinstance(spec, (str, dict)) and not (isinstance(spec, dict) and "gating" in spec):
        spec = {"primary": spec, "gating": "none", "secondary": None}
    if not isinstance(spec, dict) or set(spec) != {"primary", "gating", "secondary"} or \
            spec["gating"] not in GATING:
        raise ValueError(f"{where}: expected an activation or {{'primary', 'gating' (one of "
                         f"{GATING}), 'secondary'}}, got {spec!r}")
    gated = spec["gating"] != "none"
    return {"primary": check_activation(spec["primary"], where), "gating": spec["gating"],
            "secondary": check_activation(spec["secondary"], where) if gated else None}


def layer_array(c: Any, where: str) -> dict[str, Any]:
    """One layer array in ``NAM``'s form, from either file format (checked)."""
    if not isinstance(c, dict):
        raise ValueError(f"{where}: a layer array must be a JSON object, got {c!r}")
    old = "head_size" in c
    unknown = sorted(set(c) - (OLD_KEYS if old else NEW_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown or unsupported keys {unknown}")
    for key in FILM_KEYS:
        if isinstance(c.get(key), dict) and c[key].get("active"):
            raise ValueError(f"{where}: FiLM ({key}) is not supported")
    for key, what in (("slimmable", "slimmable layer arrays"), ("packing", "packed models")):
        if c.get(key) is not None:
            raise ValueError(f"{where}: {what} ('{key}') are not supported")
    for key in ("groups_input", "groups_input_mixin"):
        if c.get(key, 1) != 1:
            raise ValueError(f"{where}: grouped convolutions ({key}={c[key]!r}) are not "
                             f"supported")
    dilations = _ints(c.get("dilations"), f"{where}.dilations", None, MAX_RECEPTIVE_FIELD)
    n = len(dilations)
    channels = _int(c.get("channels"), f"{where}.channels")
    kernels = c.get("kernel_sizes", c.get("kernel_size"))
    out: dict[str, Any] = {
        "input_size": _int(c.get("input_size"), f"{where}.input_size"),
        "condition_size": _int(c.get("condition_size"), f"{where}.condition_size"),
        "channels": channels, "kernel_sizes": _ints(kernels, f"{where}.kernel_sizes", n, 4096),
        "dilations": dilations}
    if old:
        gated = c.get("gated", False)
        if not isinstance(gated, bool):
            raise ValueError(f"{where}.gated must be true or false, got {gated!r}")
        primary = check_activation(c.get("activation"), f"{where}.activation")
        layer = {"primary": primary, "gating": "gated" if gated else "none",
                 "secondary": {"type": "Sigmoid"} if gated else None}
        out.update(bottleneck=channels, activations=[layer] * n, layer1x1=True, head1x1=0,
                   head_size=_int(c.get("head_size"), f"{where}.head_size"),
                   head_kernel_size=1, head_bias=_bool(c.get("head_bias", True),
                                                       f"{where}.head_bias"))
        return out
    h = c.get("head")
    if not isinstance(h, dict) or set(h) - {"out_channels", "kernel_size", "bias"}:
        raise ValueError(f"{where}.head must be {{'out_channels', 'kernel_size', 'bias'}}, "
                         f"got {h!r}")
    l1, h1 = c.get("layer1x1") or {}, c.get("head1x1") or {}
    for name, sub in (("layer1x1", l1), ("head1x1", h1)):
        if not isinstance(sub, dict) or sub.get("groups", 1) != 1:
            raise ValueError(f"{where}.{name}: grouped convolutions are not supported, got "
                             f"{sub!r}")
    out.update(bottleneck=_int(c.get("bottleneck", channels), f"{where}.bottleneck"),
               activations=_layer_activations(c, n, where),
               layer1x1=_bool(l1.get("active", True), f"{where}.layer1x1.active"),
               head1x1=_int(h1.get("out_channels", 1), f"{where}.head1x1.out_channels")
               if _bool(h1.get("active", False), f"{where}.head1x1.active") else 0,
               head_size=_int(h.get("out_channels"), f"{where}.head.out_channels"),
               head_kernel_size=_int(h.get("kernel_size", 1), f"{where}.head.kernel_size",
                                     1, 4096),
               head_bias=_bool(h.get("bias", True), f"{where}.head.bias"))
    return out


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def _layer_activations(c: dict, n: int, where: str) -> list[dict[str, Any]]:
    def per_layer(value, name, default):
        if value is None:
            return [default] * n
        if isinstance(value, list):
            if len(value) != n:
                raise ValueError(f"{where}.{name} must have one entry per layer ({n}), got "
                                 f"{len(value)}")
            return value
        return [value] * n

    primaries = per_layer(c.get("activation"), "activation", "Tanh")
    modes = per_layer(c.get("gating_mode"), "gating_mode", "none")
    secondaries = per_layer(c.get("secondary_activation"), "secondary_activation", None)
    layers = []
    for i, (p, mode, s) in enumerate(zip(primaries, modes, secondaries)):
        if mode not in GATING:
            raise ValueError(f"{where}.gating_mode[{i}] must be one of {GATING}, got {mode!r}")
        layers.append({"primary": check_activation(p, f"{where}.activation[{i}]"),
                       "gating": mode,
                       "secondary": None if mode == "none" else
                       check_activation(s, f"{where}.secondary_activation[{i}]")})
    return layers


def head(h: Any) -> dict[str, Any]:
    """The WaveNet's head (activation then conv, per block), from either format."""
    if not isinstance(h, dict):
        raise ValueError(f"head must be a JSON object or null, got {h!r}")
    if "num_layers" in h:  # the older format: 1x1 convs
        h = dict(h)
        h["kernel_sizes"] = [1] * _int(h.pop("num_layers"), "head.num_layers")
    extra = sorted(set(h) - {"channels", "activation", "out_channels", "kernel_sizes"})
    if extra:
        raise ValueError(f"head: unknown keys {extra}")
    return {"channels": _int(h.get("channels"), "head.channels"),
            "activation": check_activation(h.get("activation"), "head.activation"),
            "out_channels": _int(h.get("out_channels"), "head.out_channels"),
            "kernel_sizes": _ints(h.get("kernel_sizes"), "head.kernel_sizes", None, 4096)}


def check_plan(config: dict[str, Any]) -> None:
    """Widths that chain (each array's input is the previous array's residual, its head
    input the previous head), one input and output channel, bounded histories."""
    arrays, history, rf = config["layer_arrays"], 0, 1
    previous = None
    for i, a in enumerate(arrays):
        where = f"layer array {i}"
        if a["condition_size"] != 1:
            raise ValueError(f"{where}: condition_size must be 1 (the input audio), got "
                             f"{a['condition_size']}")
        want = 1 if previous is None else previous["channels"]
        if a["input_size"] != want:
            raise ValueError(f"{where}: input_size must be {want}, got {a['input_size']}")
        term = a["head1x1"] or a["bottleneck"]
        if previous is not None and previous["head_size"] != term:
            raise ValueError(f"{where}: the head input of width {previous['head_size']} "
                             f"cannot take this array's head terms of width {term}")
        if not a["layer1x1"] and a["bottleneck"] != a["channels"]:
            raise ValueError(f"{where}: without layer1x1 the bottleneck ({a['bottleneck']}) "
                             f"must equal the channels ({a['channels']})")
        for k, d in zip(a["kernel_sizes"], a["dilations"]):
            rf += (k - 1) * d
            history += a["channels"] * (k - 1) * d
        rf += a["head_kernel_size"] - 1
        history += term * (a["head_kernel_size"] - 1)
        previous = a
    assert previous is not None
    widths = previous["head_size"]
    if config["head"] is not None:
        widths = config["head"]["out_channels"]
        rf += sum(k - 1 for k in config["head"]["kernel_sizes"])
        history += config["head"]["channels"] * sum(config["head"]["kernel_sizes"])
    if widths != 1:
        raise ValueError(f"the output must have 1 channel, got {widths}")
    if rf > MAX_RECEPTIVE_FIELD or history > MAX_HISTORY:
        raise ValueError(f"receptive field {rf} samples and histories of {history} values: "
                         f"beyond what is loaded here ({MAX_RECEPTIVE_FIELD} samples, "
                         f"{MAX_HISTORY} values)")


def wavenet_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Every parameter's name and shape, in NAM's weight order (``head_scale`` apart)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i, a in enumerate(config["layer_arrays"]):
        p, c, b = f"arrays.{i}.", a["channels"], a["bottleneck"]
        shapes[p + "rechannel.weight"] = (c, a["input_size"], 1)
        for j, (k, act) in enumerate(zip(a["kernel_sizes"], a["activations"])):
            q, mid = f"{p}layers.{j}.", b if act["gating"] == "none" else 2 * b
            shapes.update({q + "conv.weight": (mid, c, k), q + "conv.bias": (mid,),
                           q + "mixin.weight": (mid, 1, 1)})
            if a["layer1x1"]:
                shapes.update({q + "layer1x1.weight": (c, b, 1), q + "layer1x1.bias": (c,)})
            if a["head1x1"]:
                shapes.update({q + "head1x1.weight": (a["head1x1"], b, 1),
                               q + "head1x1.bias": (a["head1x1"],)})
        shapes[p + "head_rechannel.weight"] = (a["head_size"], a["head1x1"] or b,
                                               a["head_kernel_size"])
        if a["head_bias"]:
            shapes[p + "head_rechannel.bias"] = (a["head_size"],)
    h = config["head"]
    if h is not None:
        c_in = config["layer_arrays"][-1]["head_size"]
        for j, k in enumerate(h["kernel_sizes"]):
            c_out = h["out_channels"] if j == len(h["kernel_sizes"]) - 1 else h["channels"]
            shapes.update({f"head.{j}.weight": (c_out, c_in, k), f"head.{j}.bias": (c_out,)})
            c_in = h["channels"]
    return shapes


def _cut(weights: np.ndarray, shapes: dict[str, tuple[int, ...]],
         architecture: str) -> dict[str, np.ndarray]:
    """The flat ``weights`` cut into ``shapes`` (count checked before any copy)."""
    need = sum(int(np.prod(s)) for s in shapes.values()) + (architecture == "WaveNet")
    if len(weights) != need:
        raise ValueError(f"the config needs {need} weights, the file has {len(weights)}")
    params, i = {}, 0
    for name, shape in shapes.items():
        n = int(np.prod(shape))
        params[name] = weights[i : i + n].reshape(shape)
        i += n
    return params
