"""``wavedil batch``: a folder of recordings through a model or the denoiser, on Dask.

    wavedil batch in/ out/ --model effect.npz --workers 2
    wavedil batch in/ out/ --offline --levels 8 --scheduler tcp://10.0.0.5:8786 --json

One task per file (``wavedil.dask.process_files``): the local threaded scheduler by
default, a ``LocalCluster`` of ``--workers`` processes, or a running scheduler. Prints the
per-file table (or ``--json``); exit status 1 when a file failed.
"""

from __future__ import annotations

import argparse
import functools
import glob
import os
import sys
from typing import Any

from .options import Subparsers, UsageError, add_common, positive_int
from .stream import add_denoise_options, denoise_operator, filter_operator


def add_batch_command(subparsers: Subparsers) -> None:
    """Add ``wavedil batch``."""
    p = subparsers.add_parser(
        "batch", help="run a model or the denoiser over a folder of audio files on Dask",
        description="Process every file of IN_DIR matching --pattern into OUT_DIR (same "
                    "names), one Dask task per file, long files in segments; files whose "
                    "output is newer are skipped. Without --model: the wavelet denoiser.")
    p.add_argument("input", metavar="IN_DIR", help="folder of audio files")
    p.add_argument("output", metavar="OUT_DIR", help="folder for the outputs (created)")
    p.add_argument("--model", metavar="M", help="a wavedil model file (.npz) with one input "
                                                 "and output channel (default: denoise)")
    p.add_argument("--pattern", default="*.wav", help="which files (default '*.wav')")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=positive_int, metavar="N",
                       help="start a local Dask cluster of N worker processes (one thread "
                            "each); default: Dask's threaded scheduler in this process")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="a running Dask scheduler (tcp://host:8786)")
    p.add_argument("--segment", type=positive_int, default=1 << 22, metavar="FRAMES",
                   help="frames per task of a long file (default 4194304)")
    p.add_argument("--overwrite", action="store_true", help="redo files already done")
    p.add_argument("--subtype", metavar="ST", help="output subtype (default: the input's)")
    p.add_argument("--no-clip", dest="clip", action="store_false",
                   help="refuse samples beyond full scale in integer formats (default: clip)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    show = p.add_mutually_exclusive_group()
    show.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    show.add_argument("--progress", action="store_true",
                      help="a progress bar over the files even when stderr is not a terminal")
    denoise = p.add_argument_group("denoiser (without --model)")
    denoise.add_argument("--offline", action="store_true",
                         help="the offline denoiser (thresholds from each whole file; "
                              "default levels 10) instead of the streaming one")
    add_denoise_options(denoise, "5, or 10 with --offline")
    add_common(p)
    p.set_defaults(func=run_batch)


def batch_operator(args: argparse.Namespace) -> Any:
    """The model, the streaming ``Denoiser`` or the offline ``denoise`` the options name."""
    if args.model:
        return filter_operator(args.model)
    if not args.offline:
        return denoise_operator(args)
    from ..wavelets import denoise

    try:
        threshold: Any = float(args.threshold)
    except ValueError:
        threshold = args.threshold
    return functools.partial(denoise, wavelet=args.wavelet, levels=args.levels or 10,
                             threshold=threshold, mode=args.mode, sigma=args.sigma,
                             alignment=args.alignment or "centered")


def run_batch(args: argparse.Namespace) -> int:
    """Run ``wavedil batch``."""
    if not os.path.isdir(args.input):
        raise UsageError(f"{args.input}: is not a folder")
    paths = sorted(p for p in glob.glob(os.path.join(glob.escape(args.input), args.pattern))
                   if os.path.isfile(p))
    if not paths:
        raise ValueError(f"{args.input}: no file matches {args.pattern!r}")
    op = batch_operator(args)
    from ..dask import process_files

    progress = args.progress or (not args.quiet and sys.stderr.isatty())
    with _client(args) as client:
        table = process_files(paths, op, args.output, client, segment=args.segment,
                              overwrite=args.overwrite, progress=progress,
                              subtype=args.subtype, clip=args.clip)
    print(table.to_json() if args.json else table)
    for row in table.failed:
        print(f"wavedil batch: error: {row.error}", file=sys.stderr)
    return 1 if table.failed else 0


class _client:
    """None (the threaded scheduler), or a ``Client`` (and its cluster) closed at the end."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.client: Any = None
        self.cluster: Any = None

    def __enter__(self) -> Any:
        if self.args.workers is None and self.args.scheduler is None:
            return None
        from distributed import Client, LocalCluster

        if self.args.scheduler is not None:
            self.client = Client(self.args.scheduler)
        else:
            self.cluster = LocalCluster(n_workers=self.args.workers, threads_per_worker=1,
                                        processes=True, dashboard_address=None)
            self.client = Client(self.cluster)
        return self.client

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
