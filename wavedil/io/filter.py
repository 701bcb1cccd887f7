"""Stream an audio input through an operator block by block into an output: constant
memory, non-finite input refused, the output written atomically (see ``sink``).

Shapes: blocks are ``(channels, T)`` (time last); every channel is one batch item of the
single-channel operator, so the stream gets ``(channels, 1, n)`` chunks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .atomic import signals_raise
from .sink import AtomicWriter
from .source import AudioSource


@dataclass(frozen=True)
class FilterReport:
    """What ``filter_file`` did: frames per channel, rate, channels, latency, blocks, the
    output's subtype, samples clipped, and the seconds spent in the stream."""

    frames: int
    sample_rate: int
    channels: int
    latency: int
    blocks: int
    subtype: str = ""
    clipped: int = 0
    seconds: float = 0.0


def read_blocks(path: str | os.PathLike[str], block_size: int,
                dtype: str = "float32") -> Iterator[np.ndarray]:
    """Yield ``(channels, n)`` blocks of at most ``block_size`` frames from an audio file."""
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    with AudioSource(str(path)) as source:
        for block in source.blocks(block_size):
            yield block.astype(dtype, copy=False)


def _count_non_finite(source: AudioSource, block: np.ndarray, done: int,
                      blocks: Iterator[np.ndarray]) -> ValueError:
    bad = ~np.isfinite(block)
    frame = done + int(np.argmax(bad.any(axis=0)))
    channel = int(np.argmax(bad[:, frame - done]))
    count = int(np.count_nonzero(bad)) + sum(int(np.count_nonzero(~np.isfinite(b)))
                                             for b in blocks)
    return ValueError(f"{source.name}: {count} sample(s) are NaN or infinite, the first at "
                      f"frame {frame} (channel {channel + 1}, {frame / source.rate:.3f} s); "
                      f"nothing written")


def filter_file(stream_factory: Callable[[int], Any], in_path: str | os.PathLike[str] | AudioSource,
                out_path: str | os.PathLike[str], block_size: int = 4096,
                subtype: str | None = None, progress: bool = False, format: str | None = None,
                in_place: bool = False, clip: bool = True) -> FilterReport:
    """Stream ``in_path`` through ``stream_factory(channels)`` block by block into ``out_path``.

    ``stream_factory(channels)`` returns a fresh stream taking ``(channels, 1, n)`` chunks.
    The output has the input's length, rate and channels; SIGINT/SIGTERM during the run
    raise ``Interrupted`` after the temporary output is removed.
    """
    source = in_path if isinstance(in_path, AudioSource) else AudioSource(str(in_path))
    stream = stream_factory(source.channels)
    bar = _progress_bar(source.frames, progress, os.path.basename(source.name))
    blocks = done = 0
    seconds = 0.0
    keep = None if source.subtype in ("VORBIS", "OPUS") or source.format == "MPEG" \
        else source.subtype
    try:
        with signals_raise(), AtomicWriter(
                out_path, source.rate, source.channels, subtype or None, format,
                frames=source.frames, input_path=None if source.path == "-" else source.path,
                in_place=in_place, clip=clip, input_subtype=keep) as writer:
            chunks = source.blocks(block_size)
            for block in chunks:
                if not np.isfinite(block).all():
                    raise _count_non_finite(source, block, done, chunks)
                start = time.perf_counter()
                out = _single(stream.process(block[:, None, :]))
                seconds += time.perf_counter() - start
                writer.write(out)
                blocks += 1
                done += block.shape[-1]
                if bar is not None:
                    bar.update(block.shape[-1])
            if done:
                start = time.perf_counter()
                out = _single(stream.flush())
                seconds += time.perf_counter() - start
                writer.write(out)
            if writer.written != done:
                raise ValueError(f"the operator gave {writer.written} samples for {done}")
    finally:
        source.close()
        if bar is not None:
            bar.close()
    return FilterReport(done, source.rate, source.channels, int(getattr(stream, "latency", 0)),
                        blocks, writer.subtype, writer.clipped, seconds)


def _single(y: np.ndarray) -> np.ndarray:
    if y.ndim != 3 or y.shape[1] != 1:
        raise ValueError(f"the operator must give one output channel, got shape {y.shape}")
    return y[:, 0, :]


def _progress_bar(total: int | None, enabled: bool, name: str) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is the optional extra wavedil[progress]
        return None
    return tqdm(total=total, unit="samples", unit_scale=True, desc=name, leave=False)
