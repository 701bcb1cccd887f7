"""Audio inputs read block by block: a file, ``-`` (stdin: WAV, or raw PCM), or raw PCM
described by its rate, channels and encoding. Every failure is a ``ValueError`` or an
``OSError`` whose message starts with the input's name.

Blocks are C-contiguous float32 ``(channels, n)`` arrays (time last).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import soundfile as sf

from .encoding import Encoding, decode, raw_encoding


class AudioSource:
    """An open input: ``rate``, ``channels``, ``frames`` (``None`` when unknown, e.g. a
    pipe), ``format`` and ``subtype``; ``blocks(n)`` yields its audio."""

    def __init__(self, path: str, rate: int | None = None, channels: int | None = None,
                 encoding: str | None = None) -> None:
        self.path = path
        self.name = "stdin" if path == "-" else path
        self._raw: BinaryIO | None = None
        self._file: sf.SoundFile | None = None
        self._encoding: Encoding | None = None
        if rate is not None or channels is not None or encoding is not None:
            self._open_raw(rate, channels, encoding)
        else:
            self._open_sndfile()

    def __repr__(self) -> str:
        return (f"AudioSource({self.name!r}, {self.format} {self.subtype}, {self.rate} Hz, "
                f"{self.channels} ch)")

    def _open_raw(self, rate: int | None, channels: int | None, encoding: str | None) -> None:
        if rate is None or channels is None or encoding is None:
            raise ValueError(f"{self.name}: raw input needs --rate, --channels and --encoding "
                             f"together")
        self._encoding = raw_encoding(encoding)
        self.rate, self.channels = rate, channels
        self.format, self.subtype = "RAW", self._encoding.subtype
        self._raw = sys.stdin.buffer if self.path == "-" else open(self.path, "rb")  # noqa: SIM115
        frame = channels * self._encoding.width
        self.frames: int | None = None
        if self.path != "-":
            size = os.fstat(self._raw.fileno()).st_size
            if size % frame:
                self.close()
                raise ValueError(f"{self.name}: {size} bytes is not a whole number of "
                                 f"{frame}-byte frames ({channels} x {self._encoding.subtype})")
            self.frames = size // frame

    def _open_sndfile(self) -> None:
        try:
            if self.path == "-":
                self._file = sf.SoundFile(sys.stdin.buffer.fileno(), closefd=False)
            else:
                if os.path.isdir(self.path):
                    raise IsADirectoryError(f"{self.path}: is a directory")
                if not os.path.exists(self.path):
                    raise FileNotFoundError(f"{self.path}: no such file")
                self._file = sf.SoundFile(self.path)
        except sf.LibsndfileError as error:
            why = str(error).split(": ", 1)[-1].strip()
            hint = ("; from a pipe give WAV, or raw PCM with --rate, --channels and --encoding"
                    if self.path == "-" else "")
            raise ValueError(f"{self.name}: not an audio file libsndfile can read "
                             f"({why}){hint}") from None
        f = self._file
        self.rate, self.channels = f.samplerate, f.channels
        self.format, self.subtype = f.format, f.subtype
        self.frames = f.frames if f.seekable() else None

    def blocks(self, block_size: int) -> Iterator[np.ndarray]:
        """Yield ``(channels, n)`` float32 blocks of at most ``block_size`` frames."""
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        if self._file is not None:
            yield from self._sndfile_blocks(block_size)
            return
        assert self._raw is not None and self._encoding is not None
        frame = self.channels * self._encoding.width
        while True:
            data = self._raw.read(block_size * frame)
            while data and len(data) % frame:  # a pipe may deliver part of a frame
                more = self._raw.read(frame - len(data) % frame)
                if not more:
                    raise ValueError(f"{self.name}: ends in a partial frame "
                                     f"({len(data) % frame} of {frame} bytes)")
                data += more
            if not data:
                return
            yield decode(data, self._encoding, self.channels)

    def _sndfile_blocks(self, block_size: int) -> Iterator[np.ndarray]:
        assert self._file is not None
        while True:
            try:
                block = self._file.read(block_size, dtype="float32", always_2d=True)
            except sf.LibsndfileError as error:
                raise ValueError(f"{self.name}: cannot read on ({error})") from None
            if not len(block):
                return
            yield np.ascontiguousarray(block.T)

    def close(self) -> None:
        """Close the file (never stdin)."""
        if self._file is not None:
            self._file.close()
        if self._raw is not None and self._raw is not sys.stdin.buffer:
            self._raw.close()

    def __enter__(self) -> AudioSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
