"""``load``: the numpy model stored in a model file: a wavedil ``.npz`` model file
(``wavedil.models.file``) or a Neural Amp Modeler ``.nam`` file (``wavedil.models.nam``),
told apart by their content (a ``.nam`` file is JSON, a ``.npz`` a zip archive).

>>> import os, tempfile
>>> import numpy as np
>>> from wavedil.models.tcn import TCN
>>> path = os.path.join(tempfile.mkdtemp(), "tcn.npz")
>>> _ = TCN(1, [4, 4], out_channels=1).save(path)
>>> model = load(path)
>>> model.config["channels"], model.config["dilations"], model(np.zeros((1, 5))).shape
([4, 4], [1, 2], (1, 5))
"""

from __future__ import annotations

import os

from .file import read
from .nam import NAM, NAMLinear, load_nam
from .stack import Stack
from .tcn import TCN
from .wavenet import WaveNet

CLASSES = {"TCN": TCN, "WaveNet": WaveNet, "Stack": Stack, "NAM": NAM}


def load(path: str | os.PathLike[str]) -> TCN | WaveNet | Stack | NAM | NAMLinear:
    """The numpy model stored in ``path``: ``TCN``/``WaveNet``/``Stack``/``NAM`` from a
    ``.npz`` model file, ``NAM``/``NAMLinear`` from a ``.nam`` file."""
    with open(path, "rb") as file:
        head = file.read(64).lstrip()
    if head.startswith(b"{") or os.fspath(path).endswith(".nam"):
        return load_nam(path)
    meta, arrays = read(path)
    cls = CLASSES[meta["architecture"]]
    try:
        return cls(**meta["config"], params=arrays)
    except TypeError as error:
        raise ValueError(f"{path}: the {meta['architecture']} config does not fit "
                         f"({error})") from None
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
