"""``wavedil bench MODEL|denoise``: real-time factor and latency over sample rates x
block sizes, so a plugin-style host knows what it can run. Quick on purpose: each cell
streams a short noise signal (``--seconds``, default 0.5 s), after one warm-up run."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np

from .options import Subparsers, add_common, int_list, positive_float

RATES = [16000, 44100, 48000, 96000]
BLOCKS = [1, 16, 64, 256, 1024]


def add_bench_command(subparsers: Subparsers) -> None:
    """Add ``wavedil bench``."""
    p = subparsers.add_parser(
        "bench", help="real-time factor and latency over sample rates x block sizes",
        description="Stream a short noise signal through a model file or the default "
                    "denoiser ('denoise') at each sample rate and block size; print the "
                    "real-time factor (< 1 keeps up) and the latency. Each cell times "
                    "--seconds of audio (default 0.5) after a warm-up, so figures are rough.")
    p.add_argument("model", help="a model file (.npz), or 'denoise' for the default denoiser")
    p.add_argument("--rates", type=int_list, default=RATES, metavar="R1,R2",
                   help="sample rates in Hz (default 16000,44100,48000,96000)")
    p.add_argument("--blocks", type=int_list, default=BLOCKS, metavar="B1,B2",
                   help="block sizes (default 1,16,64,256,1024)")
    p.add_argument("--seconds", type=positive_float, default=0.5,
                   help="audio per cell (default 0.5 s)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_common(p)
    p.set_defaults(func=run_bench)


def time_cell(op: Any, rate: int, block: int, seconds: float) -> float:
    """Real-time factor of streaming ``seconds`` of noise at ``rate`` in ``block``s."""
    frames = max(block, int(rate * seconds))
    x = (0.1 * np.random.default_rng(0).standard_normal((1, 1, frames))).astype(np.float32)
    stream = op.stream(batch=1)
    start = time.perf_counter()
    for i in range(0, frames, block):
        stream.process(x[..., i:i + block])
    stream.flush()
    return (time.perf_counter() - start) / (frames / rate)


def run_bench(args: argparse.Namespace) -> int:
    """Run ``wavedil bench``."""
    from .speed import blas_threads, warm_up
    from .stream import filter_operator

    if args.model == "denoise":
        from ..wavelets import Denoiser

        op: Any = Denoiser()
        name = "the default denoiser (sym8, 5 levels, bayes)"
    else:
        op, name = filter_operator(args.model), f"model {args.model}"
    if any(b < 1 for b in args.blocks) or any(r < 1 for r in args.rates):
        from .options import UsageError

        raise UsageError(f"rates and blocks must be >= 1, got {args.rates} and {args.blocks}")
    latency = int(op.stream(batch=1).latency)
    cells = []
    with blas_threads(1):
        compiled = sum(warm_up(op, 1, b) for b in args.blocks)
        for rate in args.rates:
            for block in args.blocks:
                rtf = time_cell(op, rate, block, args.seconds)
                cells.append({"rate": rate, "block": block, "rtf": rtf,
                              "latency_samples": latency,
                              "latency_ms": 1000 * (latency + block) / rate})
    if args.json:
        json.dump({"operator": name, "seconds_per_cell": args.seconds,
                   "compile_seconds": compiled, "cells": cells}, sys.stdout, indent=1)
        print()
        return 0
    print(f"{name}: {args.seconds} s of noise per cell, float32, 1 channel, 1 BLAS thread"
          + (f"; compiled the kernels first in {compiled:.1f} s" if compiled else ""))
    head = f"{'block':>8}" + "".join(f"{r / 1000:>10g} kHz" for r in args.rates)
    print(f"real-time factor (< 1 keeps up; * does not):\n{head}")
    for block in args.blocks:
        row = [c for c in cells if c["block"] == block]
        print(f"{block:>8}" + "".join(
            f"{c['rtf']:>13.4f}{'*' if c['rtf'] >= 1 else ' '}" for c in row))
    print(f"latency in ms ({latency} samples of the operator + one block):\n{head}")
    for block in args.blocks:
        row = [c for c in cells if c["block"] == block]
        print(f"{block:>8}" + "".join(f"{c['latency_ms']:>14.2f}" for c in row))
    return 0
