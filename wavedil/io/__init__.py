"""Audio in and out for the command line: inputs read block by block (files, stdin, raw
PCM), outputs written atomically or streamed, encodings, and ``filter_file`` that streams
one through an operator into the other.

    source   AudioSource: a file, ``-``, or raw PCM; errors name the input
    sink     AtomicWriter: temporary file renamed into place, or a streamed WAV/raw
    atomic   the output rules (not the input, folder exists, modes, symlinks, signals)
    encoding formats, subtypes and raw encodings (libsndfile's scaling)
    filter   filter_file, read_blocks, FilterReport
"""

from .atomic import Interrupted, check_target
from .encoding import Encoding, choose_subtype, format_of, raw_encoding
from .filter import FilterReport, filter_file, read_blocks
from .sink import AtomicWriter, wav_header
from .source import AudioSource

__all__ = ["AudioSource", "AtomicWriter", "FilterReport", "filter_file", "read_blocks",
           "Interrupted", "check_target", "Encoding", "choose_subtype", "format_of",
           "raw_encoding", "wav_header"]
