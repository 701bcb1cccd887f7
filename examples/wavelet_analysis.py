"""Wavelet analysis: MRA and scalogram of an ECG
=============================================

Wavelet analysis of a real series with the à trous transform: energy table and MRA plot.

Run::

    python examples/wavelet_analysis.py [--series ecg|nino] [--wavelet sym4] [--levels 6]
                                        [--output out/wavelet_analysis.png]

The series ship with PyWavelets (``pywt.data``; no one here made them): an ECG record
(1024 samples at 360 Hz) and the Nino 3 sea-surface temperature (quarterly, 1950-2015).
The script prints how the energy splits over the levels (with each level's frequency
band), checks that the MRA components add up to the series, and writes the MRA and the
scalogram as PNG files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pywt

from wavedil.plot import plot_mra, plot_scalogram
from wavedil.wavelets.transform import atrous, level_energies, mra

SERIES = {
    # name: (loader, sample rate, unit of the rate, time axis of the plots)
    "ecg": (lambda: pywt.data.ecg().astype(np.float64), 360.0, "Hz", "s"),
    "nino": (lambda: np.asarray(pywt.data.nino()[1], dtype=np.float64), 4.0, "per year",
             ("year", 1.0)),
}


def band(level: int, rate: float, levels: int) -> str:
    """The nominal band of detail ``level`` (or the approximation) for a sample ``rate``."""
    top = rate / 2 ** level
    if level > levels:  # the approximation
        return f"0 - {rate / 2 ** (levels + 1):.3g}"
    return f"{top / 2:.3g} - {top:.3g}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", choices=sorted(SERIES), default="ecg")
    parser.add_argument("--wavelet", default="sym4")
    parser.add_argument("--levels", type=int, default=6)
    parser.add_argument("--output", default="out/wavelet_analysis.png",
                        help="the MRA figure (PNG); the scalogram goes beside it")
    args = parser.parse_args(argv)

    load, rate, unit, time_unit = SERIES[args.series]
    x = load()
    x = x - x.mean()
    result = atrous(x, args.wavelet, args.levels, alignment="centered", boundary="symmetric",
                    norm=True)
    print(f"{args.series}: {x.size} samples at {rate:g} {unit}; {args.wavelet}, "
          f"{args.levels} levels, centred, symmetric boundary, MODWT normalisation")
    print(f"{'level':>6} {'band (' + unit + ')':>20} {'energy':>12} {'share':>7}")
    for j, (name, energy, share) in enumerate(level_energies(result), start=1):
        print(f"{name:>6} {band(j, rate, args.levels):>20} {energy:12.5g} {share:7.1%}")
    total = sum(row[1] for row in level_energies(result))
    print(f"sum of level energies / |x|^2 = {total / np.sum(x**2):.4f} "
          f"(1 only for an orthogonal bank with a periodic boundary)")

    components = mra(x, args.wavelet, args.levels, alignment="centered", boundary="symmetric")
    error = np.max(np.abs(components.sum(axis=0) - x))
    print(f"MRA: {components.shape[0]} components, max |sum - x| = {error:.2e}")

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    # every plot function returns its Figure (registered with pyplot only if pyplot is used)
    fig = plot_mra(components, sample_rate=rate, time_unit=time_unit,
                   title=f"{args.series}: à trous MRA ({args.wavelet}, {args.levels} levels)")
    fig.savefig(output, dpi=100)
    scalogram = output.with_name(output.stem + "_scalogram.png")
    plot_scalogram(result, sample_rate=rate, time_unit=time_unit).savefig(scalogram, dpi=100)
    print(f"wrote {output} and {scalogram}")
    return 0


if __name__ == "__main__":
    main()
