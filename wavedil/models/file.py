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

A reader (``ModelArchive``) refuses, with a ``ValueError`` naming the problem and quoting
the numbers: a path that is not a regular file, a file that is not a zip archive, a
member name that appears twice or is not a ``.npy`` array, a file without ``__config__``,
another format, a newer ``format_version``, an unknown header key or architecture, and
missing, unexpected or mis-shaped arrays (from their ``.npy`` headers, before any data is
read). ``wavedil.models.schema`` checks the config itself (types, ranges, sizes).

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
import math
import os
import stat
import tempfile
import zipfile
from collections import Counter
from collections.abc import Mapping
from typing import Any, BinaryIO

import numpy as np
from numpy.lib import format as npformat

from ..version import __version__

FORMAT = "wavedil-model"
FORMAT_VERSION = 2
CONFIG_KEY = "__config__"
ARCHITECTURES = ("NAM", "Stack", "TCN", "WaveNet")  # the classes: wavedil.models.loader
HEADER_KEYS = ("format", "format_version", "wavedil_version", "architecture", "config")
MAX_VALUES = 1 << 28  # the most parameter values a model file may hold (1 GiB of float32)
MAX_CONFIG_CHARS = 1 << 20  # the most characters of the JSON header
MAX_NPY_HEADER = 10_000  # the most bytes of a member's .npy header (numpy's own limit)
_PIECE = 1 << 20  # bytes read at a time


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


class ModelFileError(ValueError):
    """A file refused as a model file (the message starts with its path)."""


class ModelArchive:
    """An open model file: its header checked, its members listed, its arrays read only on
    demand and only as declared.

    Opening refuses what is not a regular file (a FIFO would block), is not a zip archive,
    has two members of one name or a member that is not a ``.npy`` array, and reads the
    ``__config__`` member only (at most ``MAX_CONFIG_CHARS`` characters of JSON).
    ``read_arrays(shapes)`` checks every member's name, dtype (float32 or float64) and shape
    from its ``.npy`` header against ``shapes``, and the sizes the archive declares against
    them, before it reads any data; then it reads each member into one array of its
    declared size, a piece at a time (a compressed member cannot expand beyond it). So
    reading holds what the declared model needs, at most ``MAX_VALUES`` values, and the
    archive's directory.

    >>> import os, tempfile
    >>> from wavedil.models.tcn import TCN
    >>> path = os.path.join(tempfile.mkdtemp(), "tcn.npz")
    >>> _ = TCN(1, [4], out_channels=1).save(path)
    >>> with ModelArchive(path) as archive:
    ...     arrays = archive.read_arrays({"blocks.0.conv1.weight": (4, 1, 3),
    ...         "blocks.0.conv1.bias": (4,), "blocks.0.conv2.weight": (4, 4, 3),
    ...         "blocks.0.conv2.bias": (4,), "blocks.0.downsample.weight": (4, 1, 1),
    ...         "blocks.0.downsample.bias": (4,), "head.weight": (1, 4, 1), "head.bias": (1,)})
    >>> archive.meta["architecture"], arrays["head.weight"].shape
    ('TCN', (1, 4, 1))
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._file = open_regular_file(self.path)
        try:
            self._zip = zipfile.ZipFile(self._file)
            self.members = self._list_members()
            self.meta = _check_meta(self._read_config(), self.path)
        except BaseException as error:
            self.close()
            if isinstance(error, (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError,
                                  NotImplementedError, RuntimeError)):
                raise self.error(f"not a wavedil model file ({error})") from None
            raise

    def __enter__(self) -> ModelArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        zipped = getattr(self, "_zip", None)
        if zipped is not None:
            zipped.close()
        self._file.close()

    def error(self, message: str) -> ModelFileError:
        return ModelFileError(f"{self.path}: {message}")

    def read_arrays(self, shapes: Mapping[str, tuple[int, ...]] | None = None
                    ) -> dict[str, np.ndarray]:
        """Every parameter array, checked against ``shapes`` (``{name: shape}``; None: the
        shapes the members declare) before any is read."""
        names = [name for name in self.members if name != CONFIG_KEY]
        declared = {name: self._header(name) for name in names} if shapes is None else None
        if shapes is None:
            assert declared is not None
            shapes = {name: header[0] for name, header in declared.items()}
        missing = [name for name in shapes if name not in self.members or name == CONFIG_KEY]
        if missing:
            raise self.error("missing parameter array(s): " + ", ".join(
                f"'{name}' (expected shape {tuple(shapes[name])})" for name in missing[:5]))
        extra = sorted(set(names) - set(shapes))
        if extra:
            raise self.error(f"unexpected parameter array(s) for this configuration: "
                             f"{extra[:8]}")
        total = sum(math.prod(shape) for shape in shapes.values())
        if total > MAX_VALUES:
            raise self.error(f"the config declares {total} parameter values, more than a model "
                             f"file may hold ({MAX_VALUES}, wavedil.models.file.MAX_VALUES)")
        headers = declared or {name: self._header(name) for name in shapes}
        for name, (shape, _, _, _) in headers.items():  # every header before any data
            if shape != tuple(shapes[name]):
                raise self.error(f"parameter '{name}' has shape {shape}, expected "
                                 f"{tuple(shapes[name])}")
        return {name: self._read(name, *headers[name]) for name in shapes}

    def _list_members(self) -> dict[str, zipfile.ZipInfo]:
        infos = self._zip.infolist()
        counts = Counter(info.filename for info in infos)
        twice = sorted(name for name, n in counts.items() if n > 1)
        if twice:
            raise self.error(f"archive member(s) {twice[:5]} appear more than once: a model "
                             f"file holds each array once")
        members = {}
        for info in infos:
            name = info.filename
            if info.is_dir() or not name.endswith(".npy") or info.flag_bits & 0x1:
                raise self.error(f"unexpected archive member {name!r}: a model file holds "
                                 f"unencrypted .npy arrays only")
            members[name[: -len(".npy")]] = info
        return members

    def _read_config(self) -> Any:
        """The JSON of the ``__config__`` member (a 0-d unicode array)."""
        if CONFIG_KEY not in self.members:
            raise self.error(f"not a wavedil model file: no '{CONFIG_KEY}' entry (arrays: "
                             f"{sorted(self.members)[:5]}...)")
        shape, dtype, fortran, start = self._header(CONFIG_KEY, kinds="U")
        if shape != () or dtype.itemsize // 4 > MAX_CONFIG_CHARS:
            raise self.error(f"'{CONFIG_KEY}' must be a 0-d string of at most "
                             f"{MAX_CONFIG_CHARS} characters (JSON), got {dtype} of shape "
                             f"{shape}")
        text = str(self._read(CONFIG_KEY, shape, dtype, fortran, start)[()])
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            raise self.error(f"'{CONFIG_KEY}' is not valid JSON") from None

    def _header(self, name: str, kinds: str = "f") -> tuple[tuple[int, ...], np.dtype, bool, int]:
        """``(shape, dtype, fortran_order, data offset)`` of member ``name``'s ``.npy``
        header, checked: ``dtype`` of one of ``kinds`` (float32/float64 for "f"), and the
        member's declared size equal to the header's plus its data's."""
        info = self.members[name]
        try:
            with self._zip.open(info) as raw:
                counted = _Counted(raw)
                version = npformat.read_magic(counted)
                if version not in ((1, 0), (2, 0)):
                    raise ValueError(f"npy format version {version}")
                read_header = npformat.read_array_header_1_0 if version == (1, 0) else \
                    npformat.read_array_header_2_0
                shape, fortran, dtype = read_header(counted, max_header_size=MAX_NPY_HEADER)
        except Exception as error:  # anything a hostile header raises is a refusal
            raise self.error(f"member '{name}': not a readable .npy header ({error})") from None
        if dtype.kind not in kinds or dtype.hasobject or dtype.fields is not None or \
                (kinds == "f" and dtype.itemsize not in (4, 8)):
            want = "float32 or float64" if kinds == "f" else "a string"
            raise self.error(f"member '{name}' must be {want}, got dtype {dtype} (shape "
                             f"{shape})")
        size = counted.count + math.prod(shape) * dtype.itemsize
        if info.file_size != size:
            raise self.error(f"member '{name}': the archive declares {info.file_size} bytes, "
                             f"its .npy header {size} (shape {shape}, {dtype})")
        return tuple(shape), dtype, bool(fortran), counted.count

    def _read(self, name: str, shape: tuple[int, ...], dtype: np.dtype, fortran: bool,
              start: int) -> np.ndarray:
        """Member ``name``'s data (``start`` bytes of header skipped) as a native array."""
        size = math.prod(shape) * dtype.itemsize
        data = np.empty(size, np.uint8)
        view, done = data.data, 0
        try:
            with self._zip.open(self.members[name]) as raw:
                raw.read(start)
                while done < size:
                    piece = raw.read(min(_PIECE, size - done))
                    if not piece:
                        break
                    view[done : done + len(piece)] = piece
                    done += len(piece)
                raw.read(1)  # the end: the CRC is checked
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
            raise self.error(f"member '{name}' is damaged ({error})") from None
        if done != size:
            raise self.error(f"member '{name}' is truncated: {done} of {size} bytes")
        values = data.view(dtype).reshape(shape, order="F" if fortran else "C")
        return values.astype(dtype.newbyteorder("="), order="C", copy=False)


class _Counted:
    """A reader that counts the bytes read through it."""

    def __init__(self, raw: Any) -> None:
        self.raw, self.count = raw, 0

    def read(self, size: int = -1, /) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        return data


def open_regular_file(path: str) -> BinaryIO:
    """``path`` opened for reading if it is a regular file (checked before and after
    opening, without blocking: a FIFO or a device is refused, never read)."""
    mode = os.stat(path).st_mode  # FileNotFoundError if absent
    if not stat.S_ISREG(mode):
        raise ModelFileError(f"{path}: not a regular file ({_kind(mode)}): a model file must "
                             f"be a regular file")
    nonblocking = getattr(os, "O_NONBLOCK", 0)  # (POSIX: opening a FIFO would wait)
    handle = os.open(path, os.O_RDONLY | nonblocking | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(handle).st_mode
        if not stat.S_ISREG(mode):  # replaced since the first look
            raise ModelFileError(f"{path}: not a regular file ({_kind(mode)})")
        if nonblocking:
            os.set_blocking(handle, True)
        return os.fdopen(handle, "rb")
    except BaseException:
        os.close(handle)
        raise


def _kind(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket")]
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _check_meta(meta: Any, path: str) -> dict[str, Any]:
    """The header of a model file: format, version, architecture, config, and no other key."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: expected format '{FORMAT}', got "
                             f"{meta.get('format') if isinstance(meta, dict) else meta!r}")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: format_version must be an integer >= 1, got "
                             f"{version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: format version {version} is newer than this wavedil "
                             f"reads (up to {FORMAT_VERSION}; written by wavedil "
                             f"{meta.get('wavedil_version')}): upgrade wavedil")
    unknown = sorted(set(meta) - set(HEADER_KEYS))
    if unknown:
        raise ModelFileError(f"{path}: unknown header key(s) {unknown[:5]}, expected "
                             f"{list(HEADER_KEYS)}")
    if not isinstance(meta.get("wavedil_version", ""), str):
        raise ModelFileError(f"{path}: wavedil_version must be a string, got "
                             f"{meta['wavedil_version']!r}")
    architecture = meta.get("architecture")
    if architecture not in ARCHITECTURES:
        raise ModelFileError(f"{path}: unknown architecture {architecture!r}, expected one of "
                             f"{sorted(ARCHITECTURES)}")
    if not isinstance(meta.get("config"), dict):
        raise ModelFileError(f"{path}: 'config' must be a JSON object, got "
                             f"{meta.get('config')!r}"[:300])
    return meta


def read(path: str | os.PathLike[str]) -> tuple[dict, dict[str, np.ndarray]]:
    """The checked header (``format``, versions, ``architecture``, ``config``) and the
    arrays each member declares (``ModelArchive``; ``wavedil.load`` reads only those the
    config asks for)."""
    with ModelArchive(path) as archive:
        return archive.meta, archive.read_arrays()
