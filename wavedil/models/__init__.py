"""Dilated convolution stacks in numpy (the twins of ``wavedil.nn``), no torch needed.

- ``activations``: the activations (and per-sample norms, gates) the models use.
- ``alignment``: per-conv extents from an ``alignment`` option; the delays of lookahead.
- ``base``: what the models share (parameters, casts, the offline call, the model stream).
- ``tcn`` / ``wavenet`` / ``stack``: ``TCN``, ``WaveNet`` and the generic ``Stack``.
- ``parallel``: a long offline call split over threads (by batch rows or in time).
- ``file``: the ``.npz`` model format (read and write, no model classes).
- ``schema``: the strict schema a model file's config must meet, one table per class.
- ``nam``, ``nam_format``, ``nam_activations``, ``nam_kernel``: Neural Amp Modeler ``.nam``
  files (``NAM``, ``NAMLinear``).
- ``loader``: ``load``, the numpy model of a model file (``.npz`` or ``.nam``).
"""

from .loader import load
from .nam import NAM
from .stack import Stack
from .tcn import TCN
from .wavenet import WaveNet

__all__ = ["NAM", "Stack", "TCN", "WaveNet", "load"]
