"""The ``.npz`` model file: a numpy model's weights and configuration in one file, no pickle.

Written by ``wavedil.nn.export(model, path)`` (or ``model.save(path)`` of a numpy model),
read by ``read(path)``; ``wavedil.load`` (``wavedil.models.loader``) builds the numpy model
from it. Torch is not needed to read it.

Format, version 2 (``FORMAT_VERSION``): a NumPy ``.npz`` archive (``np.load(path,
allow_pickle=False)`` reads it) holding

- ``__config__``: a 0-d unicode array, the JSON text of::

      {"format": "wavedil-model", "format_version": 1, "wavedil_version": "0.1.0",
       "architecture": "TCN" | "WaveNet" | "Stack" | "NAM",
       "config": {...the numpy model's constructor arguments, resolved...}}

  Version 2 added config options a version-1 reader does not know: ``alignment`` (a
  model with lookahead; a Stack layer's ``alignment``) and the TCN's ``activation``,
  ``norm``, ``gate``, ``skip_connections``, ``output_activation``. They are written only
  when they differ from their defaults, and a file that uses none of them is written as
  version 1, so older readers read it; a file without ``alignment`` is causal.

- one float32 or float64 array per parameter, named by the torch module path:
  ``<module>.weight`` in the PyTorch layout ``(C_out, C_in // groups, K)`` (weight norm
  already folded) and ``<module>.bias`` ``(C_out,)``; e.g. ``blocks.0.conv1.weight``. The
  names and shapes each architecture expects are ``model.param_shapes()``.

A reader refuses, with a ``ValueError`` naming the problem: a file without ``__config__``,
another format, a newer ``format_version``, an unknown architecture, a config the
architecture does not accept, and missing, unexpected or mis-shaped arrays.

>>> import tempfile, os
>>> import numpy as np
>>> from wavedil.models.tcn import TCN
>>> path = os.path.join(tempfile.mkdtemp(), "tcn.npz")
>>> _ = TCN(1, [4, 4], out_channels=1).save(path)
>>> meta, arrays = read(path)
>>> meta["architecture"], meta["config"]["channels"], arrays["head.weight"].shape
('TCN', [4, 4], (1, 4, 1))
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import zipfile

import numpy as np

from ..version import __version__

FORMAT = "wavedil-model"
FORMAT_VERSION = 2
CONFIG_KEY = "__config__"
ARCHITECTURES = ("NAM", "Stack", "TCN", "WaveNet")  # the classes: wavedil.models.loader


def save_model(path: str | os.PathLike[str], architecture: str, config: dict,
               params: dict, format_version: int = FORMAT_VERSION) -> str:
    """Write a model file (atomically: a temporary file renamed over ``path``) declaring
    ``format_version`` (the lowest version whose readers understand ``config``)."""
    if format_version not in range(1, FORMAT_VERSION + 1):
        raise ValueError(f"format_version must be 1..{FORMAT_VERSION}, got {format_version!r}")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {sorted(ARCHITECTURES)}, "
                         f"got {architecture!r}")
    if CONFIG_KEY in params:
        raise ValueError(f"'{CONFIG_KEY}' is reserved, it cannot name a parameter")
    meta = {"format": FORMAT, "format_version": format_version, "wavedil_version": __version__,
            "architecture": architecture, "config": config}
    arrays = {name: np.asarray(value) for name, value in params.items()}
    arrays[CONFIG_KEY] = np.array(json.dumps(meta))
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(suffix=".npz.tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)  # type: ignore[arg-type]  # numpy's stub: **kwds vs allow_pickle
        os.chmod(temporary, _mode_of_a_normal_write(path))  # mkstemp made it 0600
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return path


def _mode_of_a_normal_write(path: str) -> int:
    """The mode ``open(path, "w")`` would give: the replaced file's, else 0666 & ~umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def read(path: str | os.PathLike[str]) -> tuple[dict, dict[str, np.ndarray]]:
    """The checked header (``format``, versions, ``architecture``, ``config``) and arrays."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("expected a .npz archive, got a single .npy array")
            arrays = {name: data[name] for name in data.files}
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a wavedil model file ({error})") from None
    if CONFIG_KEY not in arrays:
        raise ValueError(f"{path}: not a wavedil model file: no '{CONFIG_KEY}' entry "
                         f"(arrays: {sorted(arrays)[:5]}...)")
    try:
        meta = json.loads(str(arrays.pop(CONFIG_KEY)))
    except ValueError:
        raise ValueError(f"{path}: '{CONFIG_KEY}' is not valid JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: expected format '{FORMAT}', got "
                         f"{meta.get('format') if isinstance(meta, dict) else meta!r}")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{path}: format_version must be an integer >= 1, got {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(f"{path}: format version {version} is newer than this wavedil reads "
                         f"(up to {FORMAT_VERSION}; written by wavedil "
                         f"{meta.get('wavedil_version')}): upgrade wavedil")
    architecture = meta.get("architecture")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"{path}: unknown architecture {architecture!r}, expected one of "
                         f"{sorted(ARCHITECTURES)}")
    if not isinstance(meta.get("config"), dict):
        raise ValueError(f"{path}: 'config' must be a JSON object, got {meta.get('config')!r}")
    return meta, arrays
