"""``load``: the numpy model stored in a model file: a wavedil ``.npz`` model file
(``wavedil.models.file``) or a Neural Amp Modeler ``.nam`` file (``wavedil.models.nam``),
told apart by their content (a ``.nam`` file is JSON, a ``.npz`` a zip archive).

The file is opened as a ``ModelArchive`` (its header checked, nothing else read), its
config checked against the architecture's table (``wavedil.models.schema``), the model
built from it, and only then are the arrays read that this model declares, each checked
against its shape before its data is read.

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
from typing import Any

from .file import ModelArchive, ModelFileError, open_regular_file
from .nam import NAM, NAMLinear, load_nam
from .schema import check_config
from .stack import Stack
from .tcn import TCN
from .wavenet import WaveNet

CLASSES = {"TCN": TCN, "WaveNet": WaveNet, "Stack": Stack, "NAM": NAM}


def load(path: str | os.PathLike[str]) -> TCN | WaveNet | Stack | NAM | NAMLinear:
    """The numpy model stored in ``path``: ``TCN``/``WaveNet``/``Stack``/``NAM`` from a
    ``.npz`` model file, ``NAM``/``NAMLinear`` from a ``.nam`` file."""
    with open_regular_file(os.fspath(path)) as file:  # a FIFO or device is refused here
        head = file.read(64).lstrip()
    if head.startswith(b"{") or os.fspath(path).endswith(".nam"):
        return load_nam(path)
    with ModelArchive(path) as archive:
        architecture = archive.meta["architecture"]
        try:
            config = check_config(architecture, archive.meta["config"])
            arguments: dict[str, Any] = {**config, "params": archive.read_arrays}
            return CLASSES[architecture](**arguments)
        except ModelFileError:
            raise
        except TypeError as error:
            raise ValueError(f"{path}: the {architecture} config does not fit "
                             f"({error})") from None
        except ValueError as error:
            raise ValueError(f"{path}: the {architecture} config does not fit: "
                             f"{error}") from None
