"""Block-wise audio files: read in blocks, stream through an operator, write atomically.

``filter_file`` is what the command-line filter runs: it never holds the whole file in
memory, and it writes to a temporary file beside the output that is renamed into place
only when everything succeeded, so a failure never leaves a half-written output (nor
touches an existing file of that name).

Shapes: soundfile gives ``(T, channels)``; here blocks are ``(channels, T)`` (time last).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
import soundfile as sf


@dataclass(frozen=True)
class FilterReport:
    """What ``filter_file`` did: samples per channel, rate, channels, latency, seconds."""

    frames: int
    sample_rate: int
    channels: int
    latency: int
    blocks: int


def read_blocks(path: str | os.PathLike[str], block_size: int,
                dtype: str = "float32") -> Iterator[np.ndarray]:
    """Yield ``(channels, n)`` blocks of at most ``block_size`` frames from an audio file."""
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    for block in sf.blocks(str(path), blocksize=block_size, dtype=dtype, always_2d=True):
        yield block.T


class AtomicWriter:
    """Write an audio file through a temporary file renamed into place on success."""

    def __init__(self, path: str | os.PathLike[str], sample_rate: int, channels: int,
                 subtype: str | None = None) -> None:
        self.path = Path(path)
        self.sample_rate, self.channels = sample_rate, channels
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part",
                                         dir=self.path.parent)
        os.close(fd)
        fmt = sf.available_formats().get(self.path.suffix[1:].upper())
        if fmt is None:
            os.unlink(self._tmp)
            raise ValueError(f"unknown audio file type {self.path.suffix!r} for {self.path}; "
                             f"known: {', '.join(sorted(sf.available_formats()))}")
        self._file = sf.SoundFile(self._tmp, "w", sample_rate, channels, subtype,
                                  format=self.path.suffix[1:].upper())

    def __repr__(self) -> str:
        return (f"AtomicWriter({str(self.path)!r}, sample_rate={self.sample_rate}, "
                f"channels={self.channels})")

    def write(self, block: np.ndarray) -> None:
        """Append a ``(channels, n)`` block."""
        self._file.write(np.ascontiguousarray(block.T))

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> Literal[False]:
        self._file.close()
        if kind is None:
            os.replace(self._tmp, self.path)
        else:
            os.unlink(self._tmp)
        return False


def filter_file(stream_factory: Callable[[int], Any], in_path: str | os.PathLike[str],
                out_path: str | os.PathLike[str], block_size: int = 4096,
                subtype: str | None = None, progress: bool = False) -> FilterReport:
    """Stream ``in_path`` through ``stream_factory(batch)`` block by block into ``out_path``.

    ``stream_factory(channels)`` returns a fresh stream whose chunks are
    ``(channels, 1, n)``: every audio channel goes through the operator as one batch item
    (the operator is single-channel). The output has the input's length, rate and channels.
    """
    info = sf.info(str(in_path))
    stream = stream_factory(info.channels)
    bar = _progress_bar(info.frames, progress, Path(in_path).name)
    blocks = 0
    try:
        with AtomicWriter(out_path, info.samplerate, info.channels,
                          subtype or info.subtype) as writer:
            for block in read_blocks(in_path, block_size):
                writer.write(_single(stream.process(block[:, None, :])))
                blocks += 1
                if bar is not None:
                    bar.update(block.shape[-1])
            writer.write(_single(stream.flush()))
    finally:
        if bar is not None:
            bar.close()
    return FilterReport(info.frames, info.samplerate, info.channels,
                        int(getattr(stream, "latency", 0)), blocks)


def _single(y: np.ndarray) -> np.ndarray:
    if y.ndim != 3 or y.shape[1] != 1:
        raise ValueError(f"the operator must give one output channel, got shape {y.shape}")
    return y[:, 0, :]


def _progress_bar(total: int, enabled: bool, name: str) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is the optional extra wavedil[progress]
        return None
    return tqdm(total=total, unit="samples", unit_scale=True, desc=name, leave=False)
