"""Output formats and sample encodings: which format and subtype to write, and the raw
PCM encodings (``s16le`` ...) that pipes carry.

Integer samples follow libsndfile 1.2's conversion, so raw, piped WAV and written files
agree bit for bit: a float ``x`` becomes ``floor(x * 2**(bits-1))`` clipped to the integer
range (measured: libsndfile floors, it does not round), and an integer ``n`` reads back
as ``n / 2**(bits-1)``, so integers survive a round trip through floats exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soundfile as sf

EXTENSIONS = {"aif": "AIFF", "aiff": "AIFF", "pcm": "RAW", "oga": "OGG", "opus": "OGG",
              "snd": "AU", "sf": "IRCAM", "wave": "WAV"}
STREAMABLE = ("WAV", "RAW")  # formats written with a header that needs no seeking back
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")


@dataclass(frozen=True)
class Encoding:
    """One raw sample encoding: its libsndfile subtype, numpy dtype and integer scale."""

    subtype: str
    dtype: str          # numpy dtype of one sample ('|V3' stands for 24-bit)
    width: int          # bytes per sample
    scale: float        # full scale of an integer encoding; 0 for floats
    offset: int = 0     # unsigned 8-bit: 128

    def __repr__(self) -> str:
        return f"Encoding({self.subtype}, {self.width} bytes)"


ENCODINGS = {
    "PCM_S8": Encoding("PCM_S8", "i1", 1, 2.0 ** 7),
    "PCM_U8": Encoding("PCM_U8", "u1", 1, 2.0 ** 7, 128),
    "PCM_16": Encoding("PCM_16", "<i2", 2, 2.0 ** 15),
    "PCM_24": Encoding("PCM_24", "V3", 3, 2.0 ** 23),
    "PCM_32": Encoding("PCM_32", "<i4", 4, 2.0 ** 31),
    "FLOAT": Encoding("FLOAT", "<f4", 4, 0.0),
    "DOUBLE": Encoding("DOUBLE", "<f8", 8, 0.0),
}
ALIASES = {"s8": "PCM_S8", "u8": "PCM_U8", "s16le": "PCM_16", "s24le": "PCM_24",
           "s32le": "PCM_32", "f32le": "FLOAT", "f64le": "DOUBLE"}


def raw_encoding(name: str) -> Encoding:
    """The encoding called ``name``: ``s16le``-style (ffmpeg) or a subtype (``PCM_16``)."""
    key = ALIASES.get(name.lower(), name.upper())
    if key not in ENCODINGS:
        known = ", ".join(list(ALIASES) + list(ENCODINGS))
        raise ValueError(f"unknown raw encoding {name!r}; known: {known}")
    return ENCODINGS[key]


def format_of(path: str, given: str | None = None) -> str:
    """The libsndfile format for ``path`` (from its extension) or the ``given`` name."""
    formats = sf.available_formats()
    if given is not None:
        name = given.upper()
        if name not in formats:
            raise ValueError(f"unknown format {given!r}; known: {', '.join(sorted(formats))}")
        return name
    ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    name = EXTENSIONS.get(ext, ext.upper())
    if name not in formats:
        raise ValueError(f"{path}: cannot tell the audio format from the extension "
                         f"{'.' + ext if ext else '(none)'}; give --format (one of "
                         f"{', '.join(sorted(formats))})")
    return name


def choose_subtype(fmt: str, given: str | None, input_subtype: str | None) -> str:
    """``given`` if ``fmt`` takes it; else the input's subtype if it fits ``fmt``; else the
    format's default (24-bit where the format has it and the input is wider than 16)."""
    if given is not None:
        subtype = ALIASES.get(given.lower(), given.upper())
        if subtype not in sf.available_subtypes() or not sf.check_format(fmt, subtype):
            fits = ", ".join(sorted(sf.available_subtypes(fmt))) or "none known"
            raise ValueError(f"{fmt} cannot hold subtype {given!r}; it takes: {fits}")
        return subtype
    if input_subtype and sf.check_format(fmt, input_subtype):
        return input_subtype
    wide = input_subtype in ("PCM_24", "PCM_32", "FLOAT", "DOUBLE")
    if wide and sf.check_format(fmt, "PCM_24"):
        return "PCM_24"
    default = sf.default_subtype(fmt)
    if default is None:
        raise ValueError(f"{fmt} has no default subtype; give --subtype")
    return default


def is_float(subtype: str) -> bool:
    """Whether ``subtype`` holds floats (no full scale to clip at)."""
    return subtype in FLOAT_SUBTYPES


def encode(block: np.ndarray, encoding: Encoding) -> bytes:
    """Interleaved bytes of a ``(channels, n)`` float block (already clipped to +-1)."""
    frames = np.ascontiguousarray(block.T)
    if not encoding.scale:
        return np.ascontiguousarray(frames, dtype=encoding.dtype).tobytes()
    top = encoding.scale - 1
    scaled = np.floor(frames.astype(np.float64) * encoding.scale)
    ints = np.clip(scaled, -encoding.scale, top).astype("<i4")
    if encoding.width == 3:
        return ints.view(np.uint8).reshape(*ints.shape, 4)[..., :3].tobytes()
    return (ints + encoding.offset).astype(encoding.dtype).tobytes()


def decode(data: bytes, encoding: Encoding, channels: int) -> np.ndarray:
    """A ``(channels, n)`` float32 block from interleaved bytes (whole frames)."""
    raw = np.frombuffer(data, np.uint8)
    if encoding.width == 3:
        padded = np.zeros((raw.size // 3, 4), np.uint8)
        padded[:, 1:] = raw.reshape(-1, 3)
        values = padded.view("<i4")[:, 0].astype(np.float32) / np.float32(2.0 ** 31)
    else:
        values = raw.view(encoding.dtype).astype(np.float32)
        if encoding.scale:
            values = (values - np.float32(encoding.offset)) / np.float32(encoding.scale)
    return np.ascontiguousarray(values.reshape(-1, channels).T)
