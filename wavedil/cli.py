"""The ``wavedil`` command (also ``python -m wavedil``).

    wavedil rf --kernel 3 --dilations 1,2,4,8 --stacks 2 --convs-per-block 2 --sample-rate 16000
    wavedil rf model.npz --sample-rate 16000
    wavedil plan --seconds 0.5 --sample-rate 16000 --kernel 3
    wavedil filter data/effect_model.npz data/guitar_test.wav out/guitar_fx.wav --block 256
    wavedil denoise data/speech_noisy.wav out/speech_clean.wav --wavelet db4 --levels 6

Each subcommand is added by an ``add_*_command(subparsers)`` function that sets
``func(args) -> int``; ``main`` parses, runs it and turns a ``ValueError``/``TypeError``/
``OSError`` into a message on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    _Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    _Subparsers = Any


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 1,2,4,8, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected at least one integer, got {text!r}")
    return values


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _add_schedule_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kernel", type=int, default=None, metavar="K",
                   help="kernel size of every conv")
    p.add_argument("--convs-per-block", type=int, default=1, metavar="N",
                   help="convs per block sharing one dilation (keras-tcn: 2; default 1)")
    p.add_argument("--channels", type=int, default=None, metavar="C",
                   help="channels of every conv, for parameter and MAC counts")
    p.add_argument("--alignment", choices=("causal", "centered"), default="causal",
                   help="causal (no lookahead, default) or centered")
    p.add_argument("--sample-rate", type=_positive_float, default=None, metavar="HZ",
                   help="sample rate, to print seconds")


def add_rf_command(subparsers: _Subparsers) -> None:
    p = subparsers.add_parser(
        "rf", help="print the receptive field and per-layer table of a model or schedule",
        description="Receptive field of a model file or of a dilation schedule.")
    p.add_argument("model", nargs="?", help="a wavedil model file (.npz)")
    _add_schedule_options(p)
    p.add_argument("--dilations", type=_int_list, default=None, metavar="D1,D2,...",
                   help="dilations of the blocks of one stack, e.g. 1,2,4,8")
    p.add_argument("--stacks", type=int, default=1, help="repeat the dilations (default 1)")
    p.set_defaults(func=run_rf)


def add_plan_command(subparsers: _Subparsers) -> None:
    p = subparsers.add_parser(
        "plan", help="propose gap-free dilation schedules reaching a receptive field",
        description="Gap-free dilation schedules with the fewest layers, best first.")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--seconds", type=_positive_float, help="target in seconds")
    target.add_argument("--samples", type=int, help="target in samples")
    _add_schedule_options(p)
    p.add_argument("--max-layers", type=int, default=128, help="at most this many convs")
    p.add_argument("--max-dilation", type=int, default=None, help="cap on any dilation")
    p.add_argument("--top", type=int, default=8, help="how many candidates to print")
    p.set_defaults(func=run_plan)


def _add_stream_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="audio file to read (any format soundfile reads)")
    p.add_argument("output", help="audio file to write (written atomically)")
    p.add_argument("--block", type=int, default=4096, metavar="N",
                   help="samples per block streamed through the operator (default 4096)")
    p.add_argument("--check", action="store_true",
                   help="also run offline on the whole file and print the largest difference")
    p.add_argument("--progress", action="store_true", help="show a progress bar (tqdm)")


def add_filter_command(subparsers: _Subparsers) -> None:
    p = subparsers.add_parser(
        "filter", help="stream an audio file through a model file, block by block",
        description="Stream an audio file through a wavedil model (.npz, e.g. exported by "
                    "wavedil.nn.export); every channel goes through the model.")
    p.add_argument("model", help="a wavedil model file (.npz) with one input and output channel")
    _add_stream_options(p)
    p.set_defaults(func=run_filter)


def add_denoise_command(subparsers: _Subparsers) -> None:
    p = subparsers.add_parser(
        "denoise", help="stream an audio file through the wavelet denoiser",
        description="Real-time à trous wavelet denoising of an audio file, block by block.")
    _add_stream_options(p)
    p.add_argument("--wavelet", default="db4", help="filter bank (default db4)")
    p.add_argument("--levels", type=int, default=6, help="levels (default 6)")
    p.add_argument("--alignment", choices=("causal", "centered"), default="causal")
    p.add_argument("--threshold", default="bayes",
                   help="bayes (default), sure, universal, or a number k (k sigma per level)")
    p.add_argument("--mode", choices=("soft", "hard", "garrote"), default="soft")
    p.add_argument("--sigma", type=_positive_float, default=None,
                   help="noise standard deviation (default: a running estimate)")
    p.set_defaults(func=run_denoise)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wavedil", description="Dilated (a trous) convolution tools.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    add_rf_command(subparsers)
    add_plan_command(subparsers)
    add_filter_command(subparsers)
    add_denoise_command(subparsers)
    return parser


def run_rf(args: argparse.Namespace) -> int:
    from .receptive.field import receptive_field

    if args.model is not None:
        if args.dilations is not None or args.kernel is not None:
            raise ValueError("give a model file or --kernel/--dilations, not both")
        obj = _load_model(args.model)
        rf = receptive_field(obj, args.sample_rate)
    else:
        if args.kernel is None or args.dilations is None:
            raise ValueError("rf needs a model file, or --kernel and --dilations "
                             "(e.g. --kernel 3 --dilations 1,2,4,8)")
        rf = receptive_field(None, args.sample_rate, kernel_size=args.kernel,
                             dilations=args.dilations, stacks=args.stacks,
                             convs_per_block=args.convs_per_block,
                             channels=args.channels or 1, alignment=args.alignment)
    print(rf)
    return 0


def _load_model(path: str):
    try:
        from .models.loader import load
    except ImportError:
        raise ValueError(f"cannot read {path!r}: model files need wavedil.models.file, which "
                         "this installation does not have; give --kernel and --dilations "
                         "instead") from None
    return load(path)


def run_plan(args: argparse.Namespace) -> int:
    from .receptive.planning import plan_dilations

    plan = plan_dilations(seconds=args.seconds, samples=args.samples,
                          sample_rate=args.sample_rate,
                          kernel_size=3 if args.kernel is None else args.kernel,
                          convs_per_block=args.convs_per_block,
                          channels=args.channels or 64, alignment=args.alignment,
                          max_layers=args.max_layers, max_dilation=args.max_dilation,
                          max_candidates=args.top)
    print(plan)
    return 0


def run_filter(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    if model.in_channels != 1 or model.out_channels != 1:
        raise ValueError(f"filter needs a model with 1 input and 1 output channel, got "
                         f"{model.in_channels} in and {model.out_channels} out ({args.model})")
    return _stream_file(model, args, f"model {args.model}")


def run_denoise(args: argparse.Namespace) -> int:
    from .wavelets.denoise_stream import Denoiser

    try:
        threshold = float(args.threshold)
    except ValueError:
        threshold = args.threshold
    op = Denoiser(args.wavelet, args.levels, alignment=args.alignment, threshold=threshold,
                  mode=args.mode, sigma=args.sigma)
    return _stream_file(op, args, f"denoiser {args.wavelet}, {args.levels} levels, "
                                  f"{args.alignment}, threshold {args.threshold}")


def _stream_file(op, args, what: str) -> int:
    import time

    import numpy as np

    from .io import filter_file

    start = time.perf_counter()  # a throwaway block first: numba compiles on a first run
    op.stream(batch=1).process(np.zeros((1, 1, args.block), np.float32))
    warm_up = time.perf_counter() - start
    start = time.perf_counter()
    report = filter_file(lambda channels: op.stream(batch=channels), args.input, args.output,
                         block_size=args.block, progress=args.progress)
    elapsed = time.perf_counter() - start
    seconds = report.frames / report.sample_rate
    print(f"{args.input} -> {args.output}: {what}")
    if warm_up > 1.0:
        print(f"compiled the kernels in {warm_up:.1f} s (first run only: numba caches them)")
    print(f"{report.frames} samples x {report.channels} channel(s) at {report.sample_rate} Hz "
          f"({seconds:.2f} s) in {report.blocks} blocks of {args.block}; latency "
          f"{report.latency} samples ({1000 * report.latency / report.sample_rate:.1f} ms); "
          f"real-time factor {elapsed / max(seconds, 1e-9):.4f}")
    if args.check:
        _check_against_offline(op, args.input, args.output)
    return 0


def _check_against_offline(op, input_path, output_path) -> None:
    """Print how the written file compares with the offline result: as floats, and (for
    integer formats) with the offline result written the same way, sample by sample."""
    import io

    import numpy as np
    import soundfile as sf

    audio, rate = sf.read(input_path, dtype="float32", always_2d=True)
    written, _ = sf.read(output_path, dtype="float32", always_2d=True)
    offline = op(audio.T[:, None, :])[:, 0, :].T
    info = sf.info(output_path)
    bits = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}.get(info.subtype)
    step = f"; one {info.subtype} step is {2.0 ** (1 - bits):.3g}" if bits else ""
    print(f"offline check: max |written - offline| = "
          f"{float(np.max(np.abs(written - offline), initial=0.0)):.3g}{step}")
    if bits:  # the offline result through the same quantisation
        memory = io.BytesIO()
        sf.write(memory, offline, rate, subtype=info.subtype, format=info.format)
        memory.seek(0)
        same_way, _ = sf.read(memory, dtype="float32", always_2d=True)
        steps = np.rint(np.abs(written - same_way) * 2.0 ** (bits - 1))
        print(f"offline written as {info.subtype}: {np.count_nonzero(steps == 0)} of "
              f"{steps.size} samples identical, the rest within "
              f"{int(np.max(steps, initial=0))} step(s)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its message on stderr
        return int(exit_.code or 0)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # the reader (e.g. ``head``) went away: nothing to report
        return 0
    except (ValueError, TypeError, OSError) as error:
        print(f"wavedil {args.command}: error: {error}", file=sys.stderr)
        return 1
