"""The ``wavedil`` command (also ``python -m wavedil``).

    wavedil rf --kernel 3 --dilations 1,2,4,8 --stacks 2 --convs-per-block 2 --sample-rate 16000
    wavedil rf model.npz --sample-rate 16000
    wavedil plan --seconds 0.5 --sample-rate 16000 --kernel 3

Each subcommand is added by an ``add_*_command(subparsers)`` function that sets
``func(args) -> int``; ``main`` parses, runs it and turns a ``ValueError``/``TypeError``/
``OSError`` into a message on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import sys


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


def add_rf_command(subparsers) -> None:
    p = subparsers.add_parser(
        "rf", help="print the receptive field and per-layer table of a model or schedule",
        description="Receptive field of a model file or of a dilation schedule.")
    p.add_argument("model", nargs="?", help="a wavedil model file (.npz)")
    _add_schedule_options(p)
    p.add_argument("--dilations", type=_int_list, default=None, metavar="D1,D2,...",
                   help="dilations of the blocks of one stack, e.g. 1,2,4,8")
    p.add_argument("--stacks", type=int, default=1, help="repeat the dilations (default 1)")
    p.set_defaults(func=run_rf)


def add_plan_command(subparsers) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wavedil", description="Dilated (a trous) convolution tools.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    add_rf_command(subparsers)
    add_plan_command(subparsers)
    return parser


def run_rf(args) -> int:
    from .receptive import receptive_field

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
        from .modelfile import load
    except ImportError:
        raise ValueError(f"cannot read {path!r}: model files need wavedil.modelfile, which "
                         "this installation does not have; give --kernel and --dilations "
                         "instead") from None
    return load(path)


def run_plan(args) -> int:
    from .planning import plan_dilations

    plan = plan_dilations(seconds=args.seconds, samples=args.samples,
                          sample_rate=args.sample_rate,
                          kernel_size=3 if args.kernel is None else args.kernel,
                          convs_per_block=args.convs_per_block,
                          channels=args.channels or 64, alignment=args.alignment,
                          max_layers=args.max_layers, max_dilation=args.max_dilation,
                          max_candidates=args.top)
    print(plan)
    return 0


def main(argv=None) -> int:
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
