"""Per-sample nonlinearities of the numpy models, matching their torch twins.

``activate(name, x)`` applies one of ``ACTIVATIONS`` (torch's definitions: exact erf
``gelu``, ``leaky_relu`` with slope ``LEAKY_SLOPE``, ``silu = x sigmoid(x)``, ``selu``
with torch's constants), in place where possible; ``sigmoid`` is the overflow-free
``0.5 + 0.5 tanh(x / 2)``. ``glu`` (a gated block's ``a * sigmoid(b)`` on the two channel
halves) and ``layer_norm`` (over the channels of each sample, as ``torch.nn.LayerNorm``
on ``(B, T, C)``) read one sample at a time too, so they stream without memory.

Shape: any shape in, the same shape and dtype out (float32 stays float32); ``glu`` and
``layer_norm`` take ``(B, C, T)`` (``glu`` returns ``(B, C // 2, T)``).

>>> import numpy as np
>>> activate("relu", np.array([-1.0, 2.0]))
array([0., 2.])
>>> activate("leaky_relu", np.array([-1.0, 2.0], np.float32))
array([-0.01,  2.  ], dtype=float32)
"""

from __future__ import annotations

import numpy as np

ACTIVATIONS = ("identity", "relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu", "silu",
               "selu")
LEAKY_SLOPE = 0.01  # torch.nn.functional.leaky_relu's default
SQRT_HALF = 0.5**0.5  # a Python float: keeps float32 arrays float32
SELU_ALPHA = 1.6732632423543772848170429916717  # torch.nn.SELU's constants
SELU_SCALE = 1.0507009873554804934193349852946
LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default


def activate(name: str, x: np.ndarray) -> np.ndarray:
    """Apply activation ``name`` (one of ``ACTIVATIONS``), in place where possible."""
    if name == "relu":
        return relu(x)
    if name == "identity":
        return x
    if name == "tanh":
        return np.tanh(x, out=x)
    if name == "sigmoid":
        return sigmoid(x, out=x)
    if name == "gelu":  # the exact (erf) form, torch's default
        from scipy.special import erf  # (on first use: scipy.special is slow to import)

        return x * (0.5 * (1 + erf(x * SQRT_HALF)))
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    if name == "leaky_relu":
        return np.where(x > 0, x, x * x.dtype.type(LEAKY_SLOPE))
    if name == "silu":
        return x * sigmoid(x)
    if name == "selu":
        scaled = np.expm1(np.minimum(x, 0)) * x.dtype.type(SELU_ALPHA)
        return np.where(x > 0, x, scaled) * x.dtype.type(SELU_SCALE)
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {name!r}")


_ZEROS: dict = {}  # (shape, dtype) -> a read-only array of zeros, for relu


def relu(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)`` in place.

    Taken against a cached array of zeros of x's shape: numpy's SIMD loop for two arrays
    is faster than its loop for an array and a scalar.
    """
    key = (x.shape, x.dtype)
    zeros = _ZEROS.get(key)
    if zeros is None:
        if len(_ZEROS) >= 64:  # bounded: a stream sees a few shapes
            _ZEROS.clear()
        zeros = _ZEROS[key] = np.zeros(x.shape, x.dtype)
        zeros.flags.writeable = False
    return np.maximum(x, zeros, out=x)


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``1 / (1 + exp(-x))`` as ``0.5 + 0.5 tanh(x / 2)``: no overflow, SIMD-fast tanh."""
    y = np.multiply(x, 0.5, out=out)
    np.tanh(y, out=y)
    y *= 0.5
    y += 0.5
    return y


def glu(x: np.ndarray) -> np.ndarray:
    """``a * sigmoid(b)`` of the channel halves ``a, b`` of ``(B, 2C, T)``: ``(B, C, T)``
    (``torch.nn.functional.glu(x, dim=1)``)."""
    half = x.shape[1] // 2
    return x[:, :half] * sigmoid(x[:, half:])


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray,
               eps: float = LAYER_NORM_EPS) -> np.ndarray:
    """Each sample of ``(B, C, T)`` normalised over its ``C`` channels (biased variance),
    then scaled by ``weight`` and shifted by ``bias`` (``(C, 1)`` columns)."""
    centred = x - x.mean(axis=1, keepdims=True)
    variance = np.mean(np.square(centred), axis=1, keepdims=True)
    variance += x.dtype.type(eps)
    centred /= np.sqrt(variance)
    centred *= weight
    centred += bias
    return centred
