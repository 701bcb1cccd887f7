"""``wavedil filter`` and ``wavedil denoise``: stream audio through a model or the wavelet
denoiser, block by block, sox-style (pipes, encodings, atomic outputs)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from .options import Subparsers, UsageError, add_common, positive_float, positive_int
from .receptive import load_model


def _add_stream_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="audio file to read, or - for stdin (WAV, or raw PCM with "
                                 "--rate, --channels and --encoding)")
    p.add_argument("output", help="audio file to write (atomically), or - for stdout")
    p.add_argument("--block", type=positive_int, default=4096, metavar="N",
                   help="samples per block streamed through the operator (default 4096)")
    p.add_argument("--check", action="store_true",
                   help="also run offline on the whole file and print the largest difference")
    p.add_argument("--reference", metavar="CLEAN",
                   help="a clean recording: print the SNR of the input and the output")
    out = p.add_argument_group("output encoding")
    out.add_argument("--format", metavar="FMT",
                     help="output format (WAV, FLAC, OGG, MP3, RAW, ...; default: from the "
                          "extension; WAV on stdout, RAW when the input is raw)")
    out.add_argument("--subtype", metavar="ST",
                     help="output subtype (PCM_16, PCM_24, FLOAT, VORBIS, ... or s16le-style;"
                          " default: the input's if the format takes it)")
    clip = out.add_mutually_exclusive_group()
    clip.add_argument("--clip", dest="clip", action="store_true", default=True,
                      help="clip samples beyond full scale in integer formats, and count "
                           "them (default)")
    clip.add_argument("--no-clip", dest="clip", action="store_false",
                      help="refuse to write samples beyond full scale in an integer format")
    out.add_argument("--in-place", action="store_true",
                     help="allow the output to be the input (replaced after a complete run)")
    raw = p.add_argument_group("raw PCM input (all three together)")
    raw.add_argument("--rate", type=positive_int, metavar="HZ", help="sample rate")
    raw.add_argument("--channels", type=positive_int, metavar="C", help="channels")
    raw.add_argument("--encoding", metavar="ENC",
                     help="s8, u8, s16le, s24le, s32le, f32le or f64le")
    show = p.add_mutually_exclusive_group()
    show.add_argument("--quiet", "-q", action="store_true",
                      help="no progress bar and no summary")
    show.add_argument("--progress", action="store_true",
                      help="show a progress bar even when stderr is not a terminal")
    add_common(p)


NAM_DEFAULT_RATE = 48000.0  # what NAM assumes of a .nam file that gives no sample_rate


def add_filter_command(subparsers: Subparsers) -> None:
    """Add ``wavedil filter``."""
    p = subparsers.add_parser(
        "filter", help="stream an audio file through a model file, block by block",
        description="Stream audio through a wavedil model (.npz, e.g. exported by "
                    "wavedil.nn.export) or a Neural Amp Modeler file (.nam); every channel "
                    "goes through the model.")
    p.add_argument("model", help="a wavedil model file (.npz) or a .nam file, with one input "
                                 "and output channel")
    _add_stream_options(p)
    p.add_argument("--ignore-rate", action="store_true",
                   help="run a model trained at another sample rate than the input's anyway "
                        "(by default that is refused: resample the input first, e.g. with "
                        "sox in.wav -r 48000 out.wav)")
    p.set_defaults(func=run_filter)


def add_denoise_command(subparsers: Subparsers) -> None:
    """Add ``wavedil denoise``."""
    p = subparsers.add_parser(
        "denoise", help="stream an audio file through the wavelet denoiser",
        description="Real-time à trous wavelet denoising of audio, block by block.")
    _add_stream_options(p)
    add_denoise_options(p)
    p.set_defaults(func=run_denoise)


def add_denoise_options(p: argparse.ArgumentParser | argparse._ArgumentGroup,
                        levels: str = "5: latency 465 samples for sym8") -> None:
    """The denoiser's options (``wavedil denoise``, ``wavedil batch``)."""
    p.add_argument("--wavelet", default="sym8", help="filter bank (default sym8)")
    p.add_argument("--levels", type=positive_int, default=None, help=f"levels (default {levels})")
    p.add_argument("--alignment", choices=("causal", "centered"), default=None,
                   help="the analysis (default: the bank's): an SWT bank (db, sym, coif, "
                        "haar) needs causal: zero analysis latency, its synthesis brings "
                        "(K-1)(2^J-1); a difference bank (starlet, linear) needs centered")
    p.add_argument("--threshold", default="bayes",
                   help="bayes (default), sure, universal, or a number k (k sigma per level)")
    p.add_argument("--mode", choices=("soft", "hard", "garrote"), default="soft",
                   help="thresholding rule: soft shrinks, hard keeps or zeroes, garrote "
                        "between (default soft)")
    p.add_argument("--sigma", type=positive_float, default=None,
                   help="noise standard deviation (default: a running estimate)")


def filter_operator(path: str) -> Any:
    """The model in ``path``, checked to be single-channel."""
    model = load_model(path)
    if model.in_channels != 1 or model.out_channels != 1:
        raise ValueError(f"{path}: filter needs a model with 1 input and 1 output channel, "
                         f"got {model.in_channels} in and {model.out_channels} out")
    return model


def denoise_operator(args: argparse.Namespace) -> Any:
    """The denoiser the options describe."""
    from ..wavelets import Denoiser

    try:
        threshold: Any = float(args.threshold)
    except ValueError:
        threshold = args.threshold
    return Denoiser(args.wavelet, args.levels or 5, alignment=args.alignment,
                    threshold=threshold, mode=args.mode, sigma=args.sigma)


def run_filter(args: argparse.Namespace) -> int:
    """Run ``wavedil filter``."""
    _check_usage(args)
    op = filter_operator(args.model)
    rate = None  # a wavedil model file does not say; a .nam file does, or NAM assumes 48 kHz
    if hasattr(op, "sample_rate"):
        rate = op.sample_rate or NAM_DEFAULT_RATE
    return stream_file(op, args, f"model {args.model}", None if args.ignore_rate else rate)


def check_rate(rate: int, model_rate: float, args: argparse.Namespace) -> None:
    """Refuse an input whose sample rate is not the model's (no resampler streams here)."""
    if rate != model_rate:
        raise ValueError(f"{args.input}: {rate} Hz, but the model {args.model} was trained at "
                         f"{model_rate:g} Hz: resample the input first (e.g. sox "
                         f"{args.input} -r {model_rate:g} resampled.wav), or pass --ignore-rate "
                         f"to run it at {rate} Hz anyway")


def run_denoise(args: argparse.Namespace) -> int:
    """Run ``wavedil denoise``."""
    _check_usage(args)
    op = denoise_operator(args)
    return stream_file(op, args, f"denoiser {args.wavelet}, {op.levels} levels, "
                                 f"{op.stream().alignment}, threshold {args.threshold}")


def _check_usage(args: argparse.Namespace) -> None:
    if args.check and "-" in (args.input, args.output):
        raise UsageError("--check reads the input and the output again: give files, not -")
    if args.reference and "-" in (args.input, args.output):
        raise UsageError("--reference reads the input and the output again: give files, "
                         "not -")
    if args.input == "-" and sys.stdin.isatty():
        raise UsageError("refusing to read audio from a terminal: pipe it in or give a file")
    if args.output == "-" and sys.stdout.isatty():
        raise UsageError("refusing to write audio to a terminal: redirect stdout or give a file")
    raw = (args.rate, args.channels, args.encoding)
    if any(v is not None for v in raw) and None in raw:
        raise UsageError("raw input needs --rate, --channels and --encoding together")


def stream_file(op: Any, args: argparse.Namespace, what: str,
                model_rate: float | None = None) -> int:
    """Stream ``args.input`` through ``op`` into ``args.output`` and print the summary;
    ``model_rate``: the only input rate accepted (None: any)."""
    from ..io import AudioSource, filter_file
    from .speed import blas_threads, warm_up

    source = AudioSource(args.input, args.rate, args.channels, args.encoding)
    if model_rate is not None:
        try:
            check_rate(source.rate, model_rate, args)
        except ValueError:
            source.close()
            raise
    fmt = args.format or ("RAW" if args.output == "-" and source.format == "RAW" else None)
    out: TextIO = sys.stderr if args.output == "-" else sys.stdout
    try:
        with blas_threads(source.channels):
            compiled = warm_up(op, source.channels, args.block)
            start = time.perf_counter()
            report = filter_file(lambda channels: op.stream(batch=channels), source,
                                 args.output, block_size=args.block, subtype=args.subtype,
                                 progress=args.progress or (not args.quiet and sys.stderr.isatty()),
                                 format=fmt, in_place=args.in_place, clip=args.clip)
            elapsed = time.perf_counter() - start
    finally:
        source.close()
    if args.quiet:
        return 0
    from .summary import check_against_offline, print_summary, snr_report

    print_summary(out, args, what, report, elapsed, compiled)
    if args.check:
        check_against_offline(op, args.input, args.output, out)
    if args.reference:
        snr_report(args.reference, args.input, args.output, out)
    return 0
