"""``wavedil analyze IN``: the per-level energy of the à trous transform of a recording
(a table, or ``--json``), and ``--plot PNG``: its scalogram above its MRA, in seconds
(``--cwt``: the Morlet CWT scalogram, 12 voices per octave, with its cone of influence).

The transform is offline (periodic boundary), so the whole file is read into memory.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from .options import Subparsers, UsageError, add_common, positive_int


def add_analyze_command(subparsers: Subparsers) -> None:
    """Add ``wavedil analyze``."""
    p = subparsers.add_parser(
        "analyze", help="per-level energy of the à trous wavelet transform of a recording",
        description="Energy per level of the à trous (undecimated) wavelet transform, all "
                    "channels together; MODWT normalisation, so the shares add up to 1.")
    p.add_argument("input", help="audio file to analyse")
    p.add_argument("--wavelet", default="db4", help="filter bank (default db4)")
    p.add_argument("--levels", type=positive_int, default=None,
                   help="levels (default: as many as the length allows, at most 10)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--plot", metavar="PNG", help="also draw the scalogram and the MRA")
    p.add_argument("--cwt", action="store_true",
                   help="with --plot: the scalogram of the Morlet CWT (12 voices per octave, "
                        "cone of influence shaded) instead of the à trous levels")
    add_common(p)
    p.set_defaults(func=run_analyze)


def analyze(audio: np.ndarray, rate: int, wavelet: str, levels: int | None) -> dict[str, Any]:
    """Energy rows of ``audio`` ``(channels, T)``: name, band in Hz, energy, share."""
    from ..wavelets import atrous, level_energies, max_level

    if audio.shape[-1] < 2:
        raise ValueError(f"{audio.shape[-1]} sample(s) is too short to analyse")
    levels = levels or max(1, min(10, max_level(audio.shape[-1], wavelet)))
    result = atrous(audio, wavelet, levels, norm=True)
    rows = []
    for j, (name, energy, share) in enumerate(level_energies(result), start=1):
        top = rate / 2 ** j if j <= levels else rate / 2 ** (levels + 1)
        low = rate / 2 ** (j + 1) if j <= levels else 0.0
        rows.append({"level": name, "band_hz": [low, top], "energy": energy, "share": share})
    return {"wavelet": wavelet, "levels": levels, "sample_rate": rate,
            "frames": int(audio.shape[-1]), "channels": int(audio.shape[0]), "rows": rows}


def run_analyze(args: argparse.Namespace) -> int:
    """Run ``wavedil analyze``."""
    from ..io import AudioSource

    if args.cwt and not args.plot:
        raise UsageError("--cwt draws the CWT scalogram in the --plot figure: give --plot PNG")
    with AudioSource(args.input) as source:
        blocks = list(source.blocks(1 << 16))
        rate = source.rate
        audio = (np.concatenate(blocks, axis=-1) if blocks
                 else np.zeros((source.channels, 0), np.float32))
    if not np.isfinite(audio).all():
        raise ValueError(f"{args.input}: {np.count_nonzero(~np.isfinite(audio))} sample(s) "
                         f"are NaN or infinite")
    if audio.shape[-1] < 2:
        raise ValueError(f"{args.input}: {audio.shape[-1]} sample(s) is too short to analyse")
    report = analyze(audio.astype(np.float64), rate, args.wavelet, args.levels)
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        print()
    else:
        print(f"{args.input}: {report['frames']} samples x {report['channels']} channel(s) "
              f"at {rate} Hz; {args.wavelet}, {report['levels']} levels")
        print(f"{'level':>6} {'band (Hz)':>20} {'energy':>12} {'share':>8}")
        for row in report["rows"]:
            low, top = row["band_hz"]
            print(f"{row['level']:>6} {f'{low:.0f}-{top:.0f}':>20} {row['energy']:12.5g} "
                  f"{100 * row['share']:7.2f}%")
    if args.plot:
        _plot(audio, rate, args.wavelet, report["levels"], args.plot, args.cwt)
        print(f"wrote {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _plot(audio: np.ndarray, rate: int, wavelet: str, levels: int, path: str,
          continuous: bool = False) -> None:
    from matplotlib.figure import Figure  # no pyplot: no backend, nothing to close

    from ..io import check_target
    from ..plot import plot_cwt, plot_mra, plot_scalogram
    from ..wavelets import atrous, cwt, mra

    target = check_target(path)
    mono = audio.mean(axis=0)
    fig = Figure(figsize=(10, 3 + 0.8 * levels))
    parts: Any = fig.subfigures(2, 1, height_ratios=[1, 2])
    top, bottom = parts[0], parts[1]
    if continuous:
        plot_cwt(cwt(mono, octaves=levels, voices=12, boundary="symmetric", decimate=True,
                     sample_rate=rate), fig=top)  # decimated: about 24 T coefficients
    else:
        plot_scalogram(atrous(mono, wavelet, levels), sample_rate=rate, fig=top)
    plot_mra(mra(mono, wavelet, levels), sample_rate=rate, fig=bottom)
    fig.savefig(target.real)
