"""Export a trained torch model to numpy: weight norm folded, written as a ``.npz`` model file.

``export(model, path)`` writes what ``wavedil.models.loader.load(path)`` (exported as
``wavedil.load``) turns back into the numpy twin; ``to_numpy(model)`` builds that twin in
memory. Weight norm, from ``torch.nn.utils.parametrizations.weight_norm`` or the older
``torch.nn.utils.weight_norm``, is folded into plain weights ``g * v / ||v||`` exactly as
torch computes them in the forward pass.

>>> from wavedil.nn import TCN
>>> net = to_numpy(TCN(1, [4, 4], kernel_size=2))
>>> type(net).__name__, net.receptive_field
('TCN', 7)
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.weight_norm import WeightNorm

from ..models.base import Model
from .models import _Model


def folded_weight(module: nn.Module) -> torch.Tensor:
    """The weight ``module``'s forward uses, weight norm folded in (detached)."""
    if not isinstance(module, nn.Module) or not hasattr(module, "weight"):
        raise TypeError(f"module must be a torch module with a weight, got "
                        f"{type(module).__name__}")
    with torch.no_grad():
        if parametrize.is_parametrized(module, "weight"):
            # evaluates the parametrizations: g * v / ||v||
            return module.weight.detach()  # type: ignore[operator]  # a Module attribute
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == "weight":
                return hook.compute_weight(module).detach()
        return module.weight.detach()  # type: ignore[operator]


def model_params(model: nn.Module) -> dict[str, np.ndarray]:
    """Every conv's folded weight and bias, and every layer norm's weight and bias, as
    numpy arrays named by module path."""
    params = {}
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv1d, nn.LayerNorm)):
            weight = folded_weight(module) if isinstance(module, nn.Conv1d) else \
                module.weight.detach()
            params[f"{name}.weight"] = weight.cpu().numpy().copy()
            if module.bias is not None:
                params[f"{name}.bias"] = module.bias.detach().cpu().numpy().copy()
    return params


def to_numpy(model: nn.Module) -> Model:
    """The numpy twin (``wavedil.models.stack``) of a wavedil torch model, with the same weights."""
    if not isinstance(model, _Model):
        raise TypeError(f"expected a wavedil.nn TCN, WaveNet or Stack, got "
                        f"{type(model).__name__}; convert pytorch-tcn models with "
                        f"wavedil.nn.from_pytorch_tcn first")
    return model.numpy_class(**model.config, params=model_params(model))


def export(model: nn.Module, path: str | os.PathLike) -> str:
    """Write ``model`` (weights folded, config, versions) to the ``.npz`` file ``path``."""
    return to_numpy(model).save(path)
