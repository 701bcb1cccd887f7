"""``wavedil rf`` and ``wavedil plan``: receptive fields and dilation schedules."""

from __future__ import annotations

import argparse
from typing import Any

from .options import Subparsers, add_common, int_list, positive_float, positive_int


def _add_schedule_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kernel", type=int, default=None, metavar="K",
                   help="kernel size of every conv")
    p.add_argument("--convs-per-block", type=positive_int, default=1, metavar="N",
                   help="convs per block sharing one dilation (keras-tcn: 2; default 1)")
    p.add_argument("--channels", type=positive_int, default=None, metavar="C",
                   help="channels of every conv, for parameter and MAC counts")
    p.add_argument("--alignment", choices=("causal", "centered"), default="causal",
                   help="causal (no lookahead, default) or centered")
    p.add_argument("--sample-rate", type=positive_float, default=None, metavar="HZ",
                   help="sample rate, to print seconds")
    add_common(p)


def add_rf_command(subparsers: Subparsers) -> None:
    """Add ``wavedil rf``."""
    p = subparsers.add_parser(
        "rf", help="print the receptive field and per-layer table of a model or schedule",
        description="Receptive field of a model file or of a dilation schedule.")
    p.add_argument("model", nargs="?", help="a wavedil model file (.npz)")
    _add_schedule_options(p)
    p.add_argument("--dilations", type=int_list, default=None, metavar="D1,D2,...",
                   help="dilations of the blocks of one stack, e.g. 1,2,4,8")
    p.add_argument("--stacks", type=positive_int, default=1,
                   help="repeat the dilations (default 1)")
    p.set_defaults(func=run_rf)


def add_plan_command(subparsers: Subparsers) -> None:
    """Add ``wavedil plan``."""
    p = subparsers.add_parser(
        "plan", help="propose gap-free dilation schedules reaching a receptive field",
        description="Gap-free dilation schedules with the fewest layers, best first.")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--seconds", type=positive_float, help="target in seconds")
    target.add_argument("--samples", type=int, help="target in samples")
    _add_schedule_options(p)
    p.add_argument("--max-layers", type=positive_int, default=128,
                   help="at most this many convs")
    p.add_argument("--max-dilation", type=positive_int, default=None,
                   help="cap on any dilation")
    p.add_argument("--top", type=positive_int, default=8, help="how many candidates to print")
    p.set_defaults(func=run_plan)


def load_model(path: str) -> Any:
    """The model in ``path``; any failure is one ``ValueError`` naming the file."""
    import os

    from ..models import load

    if not os.path.exists(path):
        raise ValueError(f"{path}: no such model file")
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a directory, not a model file")
    try:
        return load(path)
    except Exception as error:  # zip, JSON, key and version errors alike
        text = str(error)
        raise ValueError(text if text.startswith(str(path))
                         else f"{path}: cannot load the model ({text})") from None


def run_rf(args: argparse.Namespace) -> int:
    """Print the receptive field."""
    from ..receptive.field import receptive_field

    if args.model is not None:
        if args.dilations is not None or args.kernel is not None:
            raise ValueError("give a model file or --kernel/--dilations, not both")
        rf = receptive_field(load_model(args.model), args.sample_rate)
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


def run_plan(args: argparse.Namespace) -> int:
    """Print the dilation plans."""
    from ..receptive.planning import plan_dilations

    plan = plan_dilations(seconds=args.seconds, samples=args.samples,
                          sample_rate=args.sample_rate,
                          kernel_size=3 if args.kernel is None else args.kernel,
                          convs_per_block=args.convs_per_block,
                          channels=args.channels or 64, alignment=args.alignment,
                          max_layers=args.max_layers, max_dilation=args.max_dilation,
                          max_candidates=args.top)
    print(plan)
    return 0
