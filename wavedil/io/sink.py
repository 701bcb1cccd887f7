"""Audio outputs: a file written atomically through libsndfile, or a stream (stdout, a
FIFO, a device) written with a header that needs no seeking back (WAV, raw PCM).

``AtomicWriter`` chooses between them from the path, clips what an integer format cannot
hold (counting it, or refusing with ``clip=False``) and, on leaving its ``with`` block
with an exception, removes its temporary file and leaves any existing output untouched.
"""

from __future__ import annotations

import errno
import os
import struct
import sys
from types import TracebackType
from typing import BinaryIO, Literal

import numpy as np
import soundfile as sf

from .atomic import AtomicPath, Target, check_target
from .encoding import ENCODINGS, STREAMABLE, choose_subtype, encode, format_of, is_float

UNKNOWN = 0xFFFFFFFF  # RIFF and data sizes of a WAV stream of unknown length


def wav_header(rate: int, channels: int, subtype: str, frames: int | None) -> bytes:
    """A 44-byte WAV header (PCM or IEEE float); sizes 0xFFFFFFFF when ``frames`` is None."""
    enc = ENCODINGS[subtype]
    data = UNKNOWN if frames is None else min(frames * channels * enc.width, UNKNOWN - 36)
    riff = UNKNOWN if frames is None else data + 36
    block = channels * enc.width
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 3 if is_float(subtype) else 1, channels, rate,
                          rate * block, block, 8 * enc.width)
            + b"data" + struct.pack("<I", data))


def _detail(f: sf.SoundFile | None, error: Exception) -> str:
    """libsndfile's own message for ``f`` ("System error : No space left on device."),
    which names the system error that ``LibsndfileError`` reduces to "System error."."""
    try:
        return sf._ffi.string(sf._snd.sf_strerror(f._file)).decode()  # type: ignore[union-attr]
    except Exception:
        return str(error)


def _os_error(error: Exception, name: str, f: sf.SoundFile | None = None) -> Exception:
    text = _detail(f, error) if f is not None else str(error)
    for code in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO):
        if os.strerror(code) in text:
            return OSError(code, os.strerror(code), name)
    return ValueError(f"{name}: {text}")


class AtomicWriter:
    """Write audio to ``path`` (``-`` is stdout): through a temporary file renamed into place
    on success, or directly to a stream; ``clipped`` counts samples beyond full scale."""

    def __init__(self, path: str | os.PathLike[str], sample_rate: int, channels: int,
                 subtype: str | None = None, format: str | None = None,
                 frames: int | None = None, input_path: str | None = None,
                 in_place: bool = False, clip: bool = True,
                 input_subtype: str | None = None) -> None:
        self.path = str(path)
        self.name = "stdout" if self.path == "-" else self.path
        self.sample_rate, self.channels, self.clip = sample_rate, channels, clip
        self.clipped = self.written = 0
        self._peak = 0.0
        target = (Target("-", "-", True, 0) if self.path == "-"
                  else check_target(self.path, input_path, in_place))
        self.format = format_of(self.path, format) if (format or self.path != "-") else "WAV"
        self.subtype = choose_subtype(self.format, subtype, input_subtype)
        self._stream: BinaryIO | None = None
        self._file: sf.SoundFile | None = None
        self._frames = frames
        if target.direct and self.format not in STREAMABLE:
            raise ValueError(f"{self.name}: {self.format} cannot be written to a pipe or "
                             f"device (it seeks back); use --format WAV or RAW")
        if target.direct and subtype is None and self.subtype not in ENCODINGS:
            self.subtype = "PCM_16"
        if target.direct and self.subtype not in ENCODINGS:
            raise ValueError(f"{self.name}: subtype {self.subtype} cannot be streamed; use "
                             f"one of {', '.join(ENCODINGS)}")
        self._place = AtomicPath(target)
        try:
            self._open(target)
        except BaseException:
            self._place.discard()
            raise

    def _open(self, target: Target) -> None:
        where = self._place.path
        if target.direct:
            if where == "-":
                self._stream = sys.stdout.buffer
            else:
                self._stream = open(where, "wb", buffering=0)  # noqa: SIM115
            if self.format == "WAV":
                self._put(wav_header(self.sample_rate, self.channels, self.subtype,
                                     self._frames))
            return
        try:
            self._file = sf.SoundFile(where, "w", self.sample_rate, self.channels,
                                      self.subtype, format=self.format)
        except sf.LibsndfileError as error:
            raise ValueError(f"{self.name}: libsndfile cannot write {self.format} "
                             f"{self.subtype} at {self.sample_rate} Hz x {self.channels} "
                             f"channel(s) ({str(error).split(': ', 1)[-1].strip()})") from None

    def __repr__(self) -> str:
        return (f"AtomicWriter({self.path!r}, sample_rate={self.sample_rate}, "
                f"channels={self.channels})")

    def _put(self, data: bytes) -> None:
        assert self._stream is not None
        try:
            self._stream.write(data)
        except OSError as error:
            raise OSError(error.errno, error.strerror, self.name) from None

    def write(self, block: np.ndarray) -> None:
        """Append a ``(channels, n)`` float block."""
        if not is_float(self.subtype):
            block = self._clipped(block)
        self.written += block.shape[-1]
        if self._file is not None:
            try:
                self._file.write(np.ascontiguousarray(block.T))
            except sf.LibsndfileError as error:
                raise _os_error(error, self.name, self._file) from None
        else:
            self._put(encode(block, ENCODINGS[self.subtype]))

    def _clipped(self, block: np.ndarray) -> np.ndarray:
        over = np.abs(block) > 1.0
        count = int(np.count_nonzero(over))
        if not count:
            return block
        peak = float(np.max(np.abs(block)))
        if not self.clip:
            frame = self.written + int(np.argmax(over.any(axis=0)))
            raise ValueError(f"{self.name}: {count} sample(s) beyond full scale in a block "
                             f"(first at frame {frame}, peak {peak:.3g}) cannot be written as "
                             f"{self.subtype} with --no-clip; use --subtype FLOAT or --clip")
        self.clipped += count
        self._peak = max(self._peak, peak)
        return np.clip(block, -1.0, 1.0)

    @property
    def peak(self) -> float:
        """The largest magnitude clipped so far (0 when nothing clipped)."""
        return self._peak

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> Literal[False]:
        problem: Exception | None = None
        f, self._file = self._file, None
        try:
            if f is not None:
                f.close()
            if self._stream is not None and kind is None:
                self._stream.flush()
        except sf.LibsndfileError as error:
            problem = _os_error(error, self.name, f)
        except OSError as error:
            problem = OSError(error.errno, error.strerror, self.name)
        if self._stream is not None and self._stream is not sys.stdout.buffer:
            try:
                self._stream.close()
            except OSError as error:
                problem = problem or OSError(error.errno, error.strerror, self.name)
        self._stream = self._file = None
        if kind is None and problem is None:
            self._place.commit()
        else:
            self._place.discard()
        if kind is None and problem is not None:
            raise problem
        return False
