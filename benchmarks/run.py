"""Run every benchmark and write one Markdown report (default ``benchmarks/RESULTS.md``).

    python benchmarks/run.py [--smoke] [--output PATH] [--only NAME]

Imports each ``benchmarks/bench_*.py`` (sorted by name) and calls its ``run(smoke)``, which
returns a Markdown section. The report holds the date, the command, the machine (measured
matmul peak and memory bandwidth) and every section. A benchmark that raises is reported on
stderr and in the file, the others still run, and the runner exits with status 1.
Whatever follows the line ``KEPT`` in the file it replaces is hand-written and kept.

numpy's BLAS and torch are pinned to ``common.THREADS`` (2) threads before numpy is imported;
``--smoke`` pins them to ``common.SMOKE_THREADS`` (1), which keeps CI fast on a busy machine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import SMOKE_THREADS, THREADS, pin_threads  # noqa: E402  (before numpy)

pin_threads(SMOKE_THREADS if "--smoke" in sys.argv[1:] else THREADS)

import argparse  # noqa: E402
import datetime  # noqa: E402
import importlib  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

from common import machine_report  # noqa: E402

KEPT = "<!-- hand-written from here on: benchmarks/run.py keeps it -->"


def bench_names() -> list[str]:
    """The benchmark modules beside this file, sorted: ``["bench_engine", ...]``."""
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes and 1-2 repeats (seconds, for CI)")
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"),
                        help="the Markdown file to write (default: benchmarks/RESULTS.md)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this module (e.g. engine or bench_engine); repeatable")
    args = parser.parse_args(argv)

    names = bench_names()
    if args.only:
        wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in args.only}
        unknown = sorted(wanted - set(names))
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; expected some of {names}")
        names = [n for n in names if n in wanted]

    command = "python benchmarks/run.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    started = time.perf_counter()
    print("machine report ...", file=sys.stderr, flush=True)
    parts = ["# wavedil benchmarks", "",
             f"Date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}. "
             f"Command: `{_relative_command(command, args.output)}`"
             + (f" (smoke size, {SMOKE_THREADS} thread: the figures are not meaningful)."
                if args.smoke else "."),
             "", "## Machine", "", machine_report(args.smoke), ""]
    failed = []
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name} ...", file=sys.stderr, flush=True)
        t0, load0 = time.perf_counter(), _load()
        try:
            section = importlib.import_module(name).run(args.smoke)
        except Exception:  # a failing benchmark must not hide the others
            failed.append(name)
            trace = traceback.format_exc()
            print(f"[{i}/{len(names)}] {name} FAILED:\n{trace}", file=sys.stderr, flush=True)
            section = f"## {name}: FAILED\n\n```\n{trace}```"
        else:
            print(f"[{i}/{len(names)}] {name} done in {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr, flush=True)
        parts += [f"<!-- {name} -->", section.rstrip(), "",
                  _context(name, time.perf_counter() - t0, load0, _load()), ""]
    parts.append(f"Total run time: {time.perf_counter() - started:.0f} s.")

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    old = output.read_text() if output.exists() else ""
    kept = old[old.index(KEPT):] if KEPT in old else ""
    output.write_text("\n".join(parts) + "\n" + ("\n" + kept if kept else ""))
    print(f"wrote {output}", file=sys.stderr)
    if failed:
        print(f"benchmark(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _load() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _context(name: str, seconds: float, before, after) -> str:
    """One line under each section: its run time and the machine's load meanwhile."""
    text = f"_`{name}` ran in {seconds:.0f} s"
    if before is None or after is None:
        return text + "._"
    cores = os.cpu_count() or 1
    text += f"; 1-minute load average {before:.1f} at the start, {after:.1f} at the end"
    if max(before, after) > cores - 0.5:
        text += (f" on {cores} cores: the machine was shared with other work, so absolute "
                 "times are inflated and ratios are less reliable than usual")
    return text + "._"


def _relative_command(command: str, output: str) -> str:
    """The command as typed, without absolute machine paths (e.g. a temporary output)."""
    if os.path.isabs(output):
        command = command.replace(output, Path(output).name)
    return command


if __name__ == "__main__":
    sys.exit(main())
