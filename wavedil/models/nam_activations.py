"""The activations a Neural Amp Modeler file may name, in numpy (``wavedil.models.nam``).

An activation is a JSON object ``{"type": NAME, ...parameters}`` (NAM's export format);
``ACTIVATIONS`` maps each supported ``NAME`` to its parameters and their defaults
(torch's and NAM's definitions). A layer's activation may pair the two halves of its
conv output (``gating``): ``"gated"`` is ``primary(a) * secondary(b)``, ``"blended"`` is
``s * primary(a) + (1 - s) * a`` with ``s = secondary(b)``.

Shape: any shape in, the same shape and dtype out; ``apply_layer`` halves the last axis
(time-major ``(B, m, 2 C)`` in, ``(B, m, C)`` out).

>>> import numpy as np
>>> apply({"type": "LeakyReLU", "negative_slope": 0.5}, np.array([-2.0, 3.0]))
array([-1.,  3.])
>>> apply_layer({"primary": {"type": "Tanh"}, "gating": "gated",
...              "secondary": {"type": "Sigmoid"}}, np.zeros((1, 1, 4), np.float32))
array([[[0., 0.]]], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .activations import relu, sigmoid

# name -> its parameters and their defaults (NAM's export names them)
ACTIVATIONS: dict[str, dict[str, float]] = {
    "Tanh": {},
    "Sigmoid": {},
    "ReLU": {},
    "LeakyReLU": {"negative_slope": 0.01},
    "Hardtanh": {"min_val": -1.0, "max_val": 1.0},
    "LeakyHardtanh": {"min_val": -1.0, "max_val": 1.0, "min_slope": 0.01, "max_slope": 0.01},
    "SiLU": {},
    "Hardswish": {},
    "Softsign": {},
    "Softsigmoid": {},
}
GATING = ("none", "gated", "blended")


def check_activation(spec: Any, where: str) -> dict[str, Any]:
    """``spec`` (a name or ``{"type": name, ...}``) with its defaults filled in, checked."""
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ValueError(f"{where}: an activation is a name or {{'type': name, ...}}, "
                         f"got {spec!r}")
    name = spec["type"]
    if name not in ACTIVATIONS:
        raise ValueError(f"{where}: the activation {name!r} is not supported (supported: "
                         f"{', '.join(ACTIVATIONS)})")
    known = ACTIVATIONS[name]
    extra = sorted(set(spec) - set(known) - {"type"})
    if extra:
        raise ValueError(f"{where}: activation {name} takes {sorted(known) or 'no parameters'}, "
                         f"got {extra}")
    out: dict[str, Any] = {"type": name}
    for key, default in known.items():
        value = spec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not np.isfinite(value):
            raise ValueError(f"{where}: activation {name}: {key} must be a finite number, "
                             f"got {value!r}")
        out[key] = float(value)
    return out


def apply(spec: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Activation ``spec`` (as ``check_activation`` gives it) of ``x``, in place where
    possible."""
    name = spec["type"]
    if name == "Tanh":
        return np.tanh(x, out=x)
    if name == "Sigmoid":
        return sigmoid(x, out=x)
    if name == "ReLU":
        return relu(x)
    one = x.dtype.type(1)
    if name == "LeakyReLU":
        return np.where(x > 0, x, x * x.dtype.type(spec["negative_slope"]))
    if name == "Hardtanh":
        return np.clip(x, x.dtype.type(spec["min_val"]), x.dtype.type(spec["max_val"]), out=x)
    if name == "LeakyHardtanh":
        low, high = x.dtype.type(spec["min_val"]), x.dtype.type(spec["max_val"])
        out = np.where(x < low, (x - low) * x.dtype.type(spec["min_slope"]) + low, x)
        return np.where(x > high, (x - high) * x.dtype.type(spec["max_slope"]) + high, out)
    if name == "SiLU":
        return x * sigmoid(x.copy())
    if name == "Hardswish":
        return x * np.clip(x + 3, 0, 6) / 6
    if name == "Softsign":
        return x / (one + np.abs(x))
    if name == "Softsigmoid":
        return x.dtype.type(0.5) * (one + x / (one + np.abs(x)))
    raise ValueError(f"unknown activation {name!r}")


def apply_layer(spec: dict[str, Any], z: np.ndarray) -> np.ndarray:
    """A layer's activation (``{"primary", "gating", "secondary"}``) of its conv output
    ``z`` (time-major: channels last; paired activations halve them)."""
    if spec["gating"] == "none":
        return apply(spec["primary"], z)
    half = z.shape[-1] // 2
    a, b = z[..., :half], z[..., half:]
    if spec["gating"] == "gated":
        return apply(spec["primary"], a.copy()) * apply(spec["secondary"], b.copy())
    s = apply(spec["secondary"], b.copy())
    return s * apply(spec["primary"], a.copy()) + (1 - s) * a
