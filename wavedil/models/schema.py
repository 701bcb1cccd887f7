"""The strict schema of a model file's config: every key, its JSON type and its range, one
table per architecture, checked before a model is built.

A config comes from a file (``wavedil.models.file``) and is read as JSON, so it is
checked as JSON: an integer must be a JSON integer (``12.9``, ``12.0``, ``"12"`` and
``true`` are refused), a flag a JSON bool (``"no"`` is refused), a name one of its
choices; an unknown key is refused. Sizes are bounded before anything is allocated: at
most ``MAX_WIDTH`` channels, ``MAX_KERNEL`` taps, dilations up to ``MAX_DILATION``, and
``MAX_LAYERS`` layers once ``dilations`` is repeated ``stacks`` times (the file reader
then bounds the parameters, ``wavedil.models.file.MAX_VALUES``). Errors are ValueErrors
that name the key (``layers[2].residual``) and quote the value.

``TABLES`` maps an architecture to its table, ``{key: Rule}``; a new architecture or key
adds a table or a row (the keys are the model class's constructor arguments).

>>> check_config("TCN", {"in_channels": 1, "channels": [4, 4], "kernel_size": 3,
...                      "dilations": [1, 2], "out_channels": None})["channels"]
[4, 4]
>>> check_config("TCN", {"in_channels": 1, "channels": [12.9]})
Traceback (most recent call last):
...
ValueError: config 'channels' must be an integer from 1 to 65536 or a list of them, got [12.9]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..engine.spec import ALIGNMENTS
from .activations import ACTIVATIONS
from .tcn import NORMS

MAX_WIDTH = 1 << 16  # channels of any layer
MAX_KERNEL = 1 << 12  # taps of any conv
MAX_DILATION = 1 << 24  # any dilation (a conv's history is (K - 1) * dilation samples)
MAX_LAYERS = 1 << 14  # layers or blocks of one model, stacks included

Check = Callable[[Any, str], Any]  # (value, its key for messages) -> the value, or ValueError


@dataclass(frozen=True)
class Rule:
    """One key of a table: its check, and whether the key must be present."""

    check: Check
    required: bool = False


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(low: int, high: int) -> Check:
    """A JSON integer from ``low`` to ``high``."""
    def check(value: Any, key: str) -> int:
        if not _is_int(value) or not low <= value <= high:
            raise ValueError(f"config '{key}' must be an integer from {low} to {high}, "
                             f"got {_shown(value)}")
        return value
    return check


def integers(low: int, high: int) -> Check:
    """A non-empty JSON list of at most ``MAX_LAYERS`` integers from ``low`` to ``high``."""
    def check(value: Any, key: str) -> list[int]:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LAYERS or \
                not all(_is_int(v) and low <= v <= high for v in value):
            raise ValueError(f"config '{key}' must be a list of 1 to {MAX_LAYERS} integers "
                             f"from {low} to {high}, got {_shown(value)}")
        return value
    return check


def boolean(value: Any, key: str) -> bool:
    """A JSON bool."""
    if not isinstance(value, bool):
        raise ValueError(f"config '{key}' must be true or false, got {_shown(value)}")
    return value


def choice(options: tuple[str, ...]) -> Check:
    """One of ``options`` (strings)."""
    def check(value: Any, key: str) -> str:
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"config '{key}' must be one of {list(options)}, got "
                             f"{_shown(value)}")
        return value
    return check


def optional(inner: Check) -> Check:
    """None (JSON null) or what ``inner`` accepts."""
    def check(value: Any, key: str) -> Any:
        return None if value is None else inner(value, key)
    return check


def width_or_widths(value: Any, key: str) -> int | list[int]:
    """One width for every block, or a list of one per block."""
    if _is_int(value) and 1 <= value <= MAX_WIDTH:
        return value
    if isinstance(value, list) and 1 <= len(value) <= MAX_LAYERS and \
            all(_is_int(v) and 1 <= v <= MAX_WIDTH for v in value):
        return value
    raise ValueError(f"config '{key}' must be an integer from 1 to {MAX_WIDTH} or a list of "
                     f"them, got {_shown(value)}")


def records(table: Mapping[str, Rule]) -> Check:
    """A non-empty JSON list of at most ``MAX_LAYERS`` objects, each checked by ``table``."""
    def check(value: Any, key: str) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LAYERS:
            raise ValueError(f"config '{key}' must be a list of 1 to {MAX_LAYERS} objects, "
                             f"got {_shown(value)}")
        return [check_table(table, item, f"{key}[{i}]") for i, item in enumerate(value)]
    return check


def alignment(value: Any, key: str) -> str | list:
    """``"causal"``, ``"centered"`` or a list of ``[left, right]`` pairs of integers (the
    model checks each pair against its conv's span)."""
    if isinstance(value, str) and value in ALIGNMENTS:
        return value
    if isinstance(value, list) and 1 <= len(value) <= MAX_LAYERS and all(
            _is_pair(pair) for pair in value):
        return value
    raise ValueError(f"config '{key}' must be one of {list(ALIGNMENTS)} or a list of [left, "
                     f"right] integer pairs, got {_shown(value)}")


def layer_alignment(value: Any, key: str) -> str | list:
    """One layer's ``"causal"``, ``"centered"`` or ``[left, right]``."""
    if (isinstance(value, str) and value in ALIGNMENTS) or _is_pair(value):
        return value
    raise ValueError(f"config '{key}' must be one of {list(ALIGNMENTS)} or [left, right] "
                     f"integers, got {_shown(value)}")


def _is_pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(
        _is_int(v) and 0 <= v <= MAX_KERNEL * MAX_DILATION for v in value)


def json_list(value: Any, key: str) -> list:
    """A non-empty JSON list of at most ``MAX_LAYERS`` items (the model checks them)."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LAYERS:
        raise ValueError(f"config '{key}' must be a list of 1 to {MAX_LAYERS} items, got "
                         f"{_shown(value)}")
    return value


def json_object(value: Any, key: str) -> dict:
    """A JSON object (the model checks its keys)."""
    if not isinstance(value, dict):
        raise ValueError(f"config '{key}' must be a JSON object, got {_shown(value)}")
    return value


def number(low: float, high: float) -> Check:
    """A finite JSON number from ``low`` to ``high`` (not a bool)."""
    def check(value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not low <= value <= high:
            raise ValueError(f"config '{key}' must be a number from {low} to {high}, got "
                             f"{_shown(value)}")
        return value
    return check


WIDTH = integer(1, MAX_WIDTH)
KERNEL = integer(1, MAX_KERNEL)
DILATIONS = integers(1, MAX_DILATION)
STACKS = integer(1, MAX_LAYERS)
STACK_LAYER = {"channels": Rule(WIDTH, required=True), "in_channels": Rule(optional(WIDTH)),
               "kernel_size": Rule(KERNEL), "dilation": Rule(integer(1, MAX_DILATION)),
               "groups": Rule(WIDTH), "activation": Rule(optional(choice(ACTIVATIONS))),
               "residual": Rule(boolean), "alignment": Rule(layer_alignment)}
TABLES: dict[str, dict[str, Rule]] = {
    "TCN": {"in_channels": Rule(WIDTH, required=True),
            "channels": Rule(width_or_widths, required=True),
            "kernel_size": Rule(KERNEL), "dilations": Rule(optional(DILATIONS)),
            "stacks": Rule(STACKS), "out_channels": Rule(optional(WIDTH)),
            "alignment": Rule(alignment), "activation": Rule(choice(ACTIVATIONS)),
            "norm": Rule(optional(choice(tuple(n for n in NORMS if n)))),
            "gate": Rule(boolean), "skip_connections": Rule(boolean),
            "output_activation": Rule(optional(choice(ACTIVATIONS)))},
    "WaveNet": {"in_channels": Rule(WIDTH), "residual_channels": Rule(WIDTH),
                "gate_channels": Rule(WIDTH), "skip_channels": Rule(WIDTH),
                "out_channels": Rule(optional(WIDTH)), "kernel_size": Rule(KERNEL),
                "dilations": Rule(optional(DILATIONS)), "stacks": Rule(STACKS),
                "global_cond_channels": Rule(integer(0, MAX_WIDTH)),
                "local_cond_channels": Rule(integer(0, MAX_WIDTH)),
                "input_kernel_size": Rule(optional(KERNEL)), "alignment": Rule(alignment)},
    "Stack": {"layers": Rule(records(STACK_LAYER), required=True),
              "in_channels": Rule(optional(WIDTH)),
              "activation": Rule(optional(choice(ACTIVATIONS))),
              "alignment": Rule(alignment)},
    "NAM": {"layer_arrays": Rule(json_list, required=True),  # checked by NAM (nam_format)
            "head": Rule(optional(json_object)), "head_scale": Rule(number(-1e30, 1e30)),
            "sample_rate": Rule(optional(number(1e-30, 1e30)))},
}


def check_table(table: Mapping[str, Rule], config: Any, where: str = "") -> dict[str, Any]:
    """``config`` (a JSON object) checked key by key against ``table``."""
    label = f"config '{where}'" if where else "config"
    if not isinstance(config, dict):
        raise ValueError(f"{label} must be a JSON object, got {_shown(config)}")
    unknown = sorted(set(config) - set(table), key=str)
    if unknown:
        raise ValueError(f"{label} has unknown key(s) {unknown[:5]}, expected some of "
                         f"{sorted(table)}")
    missing = sorted(key for key, rule in table.items() if rule.required and key not in config)
    if missing:
        raise ValueError(f"{label} is missing {missing}")
    prefix = f"{where}." if where else ""
    return {key: table[key].check(value, prefix + key) for key, value in config.items()}


def check_config(architecture: str, config: Any) -> dict[str, Any]:
    """``config`` checked against the table of ``architecture`` (types, ranges), and its
    layer count (``dilations`` times ``stacks``) bounded by ``MAX_LAYERS``."""
    checked = check_table(TABLES[architecture], config)
    dilations, stacks = checked.get("dilations"), checked.get("stacks", 1)
    if dilations is None and architecture == "WaveNet":
        dilations = [1] * 10  # the default stack: 1, 2, ..., 512
    if dilations is not None and len(dilations) * stacks > MAX_LAYERS:
        raise ValueError(f"config declares {len(dilations)} dilations x {stacks} stacks = "
                         f"{len(dilations) * stacks} layers, more than {MAX_LAYERS} "
                         f"(wavedil.models.schema.MAX_LAYERS)")
    if dilations is None and architecture == "TCN" and isinstance(checked["channels"], list):
        top = max(0, len(checked["channels"]) // stacks - 1)  # the schedule 1, 2, 4, ...
        if 2**top > MAX_DILATION:
            raise ValueError(f"config 'channels' lists {len(checked['channels'])} blocks in "
                             f"{stacks} stack(s): their default dilations reach 2**{top} = "
                             f"{2**top}, more than {MAX_DILATION} "
                             f"(wavedil.models.schema.MAX_DILATION); give 'dilations'")
    return checked


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
