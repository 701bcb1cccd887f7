"""The ``wavedil`` command (also ``python -m wavedil``).

    wavedil filter data/effect_model.npz data/guitar_test.wav out/guitar_fx.wav --block 256
    wavedil denoise data/speech_noisy.wav out/speech_clean.wav
    wavedil analyze data/speech.wav --json
    wavedil bench data/effect_model.npz
    wavedil rf --kernel 3 --dilations 1,2,4,8 --stacks 2 --convs-per-block 2 --sample-rate 16000
    wavedil plan --seconds 0.5 --sample-rate 16000 --kernel 3
    wavedil batch recordings/ cleaned/ --workers 2

One module per subcommand family adds its parsers (``add_*_command``) and sets
``func(args) -> int``; ``main`` runs it and turns every error into one line on stderr
and an exit status (``EXIT_STATUS``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from ..io import Interrupted
from ..version import __version__
from .options import Parser, UsageError
from .receptive import add_plan_command, add_rf_command
from .stream import add_denoise_command, add_filter_command

__all__ = ["main", "build_parser", "UsageError"]

EPILOG = """\
exit status: 0 success; 1 a data or file error (unreadable input, NaN samples, full disk,
output refused, ...); 2 a usage error (bad option or value); 130 and 143 interrupted by
SIGINT / SIGTERM. Errors are one line on stderr naming the file; --debug shows the
traceback. No temporary file is left behind and an existing output is untouched on failure.
"""


def _versions() -> str:
    import numpy
    import soundfile

    return (f"wavedil {__version__} (numpy {numpy.__version__}, soundfile "
            f"{soundfile.__version__}, libsndfile {soundfile.__libsndfile_version__})")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand."""
    parser = Parser(
        prog="wavedil", description="Dilated (à trous) convolution tools: stream audio "
        "through models and wavelet denoisers, analyse, benchmark, plan receptive fields.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=_versions())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    add_filter_command(subparsers)
    add_denoise_command(subparsers)
    from .analyze import add_analyze_command
    from .batch import add_batch_command
    from .bench import add_bench_command

    add_analyze_command(subparsers)
    add_bench_command(subparsers)
    add_batch_command(subparsers)
    add_rf_command(subparsers)
    add_plan_command(subparsers)
    for sub in subparsers.choices.values():
        sub.epilog = EPILOG
        sub.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def _message(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror[0].lower() + error.strerror[1:]
        return f"{error.filename}: {text}" if error.filename else text
    return str(error)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its message on stderr
        return int(exit_.code or 0)
    name = f"wavedil {args.command}"
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # the reader (e.g. ``head``) went away
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the exit flush does not complain
        return 1
    except (Interrupted, KeyboardInterrupt) as error:
        if args.debug:
            raise
        signum = getattr(error, "signum", signal.SIGINT)
        print(f"{name}: interrupted by {signal.Signals(signum).name}; no output written",
              file=sys.stderr)
        return 128 + signum
    except UsageError as error:
        if args.debug:
            raise
        print(f"{name}: error: {error}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError, RuntimeError, MemoryError) as error:
        if args.debug:
            raise
        print(f"{name}: error: {_message(error)}", file=sys.stderr)
        return 1
