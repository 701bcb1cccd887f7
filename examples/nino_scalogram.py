"""Niño 3 sea-surface temperature: MRA and CWT scalogram
=====================================================

El Niño in the Niño 3 sea-surface temperature: an à trous MRA and a Morlet scalogram with
its cone of influence.

Run::

    python examples/nino_scalogram.py [--wavelet sym4] [--levels 5] [--octaves 4]
                                      [--voices 12] [--output out/nino.png]

The series ships with PyWavelets (``pywt.data.nino()``, from NOAA's ERSST v4 Niño 3 index;
no one here made it): the sea-surface temperature of the eastern equatorial Pacific,
averaged per quarter from 1950 to 2015 (264 samples, 4 per year) and standardised. The
script removes the mean seasonal cycle (each quarter's mean over the years), which leaves
the anomaly where El Niño and La Niña show, then

- splits it into an MRA (``wavedil.mra``: details D1 .. DJ, finest first, and the smooth
  SJ; centred, symmetric boundary) and prints each level's band of periods and its share
  of the energy, and checks that the components add up to the series;
- computes the continuous wavelet transform (``wavedil.cwt``: Morlet, ``octaves x
  voices`` bands from a period of half a year up) and names the period of largest mean
  power outside the cone of influence (where the series' ends weigh on the coefficients),
  beside the largest peak of the periodogram (numpy's FFT) for comparison;
- names the years where the 2-16 year components (D3 + D4 + D5) peak: the strong El Niño
  events;
- draws the series and its MRA, and the scalogram (``|W|``) with the cone shaded
  (``wavedil.plot``), as PNG files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pywt

import wavedil
from wavedil.plot import plot_cwt, plot_mra

RATE = 4.0  # samples per year
START = 1950.0
TIME_UNIT = ("years since 1950", 1.0)


def anomaly() -> tuple[np.ndarray, np.ndarray]:
    """The years and the Niño 3 SST with each quarter's mean over the years removed."""
    years, sst = pywt.data.nino()
    sst = np.asarray(sst, dtype=np.float64)
    seasonal = sst.reshape(-1, 4).mean(axis=0)
    return np.asarray(years), sst - np.tile(seasonal, sst.size // 4)


def peaks(values: np.ndarray, count: int) -> list[int]:
    """Indices of the ``count`` largest local maxima of ``values``, largest first."""
    inner = np.flatnonzero((values[1:-1] > values[:-2]) & (values[1:-1] >= values[2:])) + 1
    return [int(i) for i in inner[np.argsort(values[inner])[::-1][:count]]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wavelet", default="sym4")
    parser.add_argument("--levels", type=int, default=5)
    parser.add_argument("--octaves", type=int, default=4)
    parser.add_argument("--voices", type=int, default=12)
    parser.add_argument("--output", default="out/nino.png",
                        help="the MRA figure (PNG); the scalogram goes beside it")
    args = parser.parse_args(argv)

    years, x = anomaly()
    print(f"Niño 3 SST anomaly: {x.size} quarters, {years[0]:g} - {years[-1]:g}")

    # -- the MRA ---------------------------------------------------------------------------
    options = dict(alignment="centered", boundary="symmetric")
    components = wavedil.mra(x, args.wavelet, args.levels, **options)
    error = float(np.max(np.abs(components.sum(axis=0) - x)))
    result = wavedil.atrous(x, args.wavelet, args.levels, norm=True, **options)
    print(f"MRA ({args.wavelet}, {args.levels} levels): {components.shape[0]} components, "
          f"max |sum - x| = {error:.1e}")
    labels = [f"D{j}" for j in range(1, args.levels + 1)] + [f"S{args.levels}"]
    print(f"{'level':>6} {'periods (years)':>16} {'energy share':>13}")
    for j, (name, (_, _, share)) in enumerate(zip(labels, wavedil.level_energies(result)), 1):
        low = 2**j / RATE
        band = f"{low:g} - {2 * low:g}" if j <= args.levels else f"> {low:g}"
        print(f"{name:>6} {band:>16} {share:13.1%}")

    # -- the CWT ---------------------------------------------------------------------------
    cwt = wavedil.cwt(x, "morlet", octaves=args.octaves, voices=args.voices,
                      sample_rate=RATE)
    periods = 1 / cwt.frequencies
    inside = ~cwt.cone_mask()
    power = np.abs(cwt.coefficients) ** 2
    counted = inside.sum(axis=1)
    mean = np.where(counted > 0, (power * inside).sum(axis=1) / np.maximum(counted, 1), 0)
    best = int(np.argmax(mean))
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    frequencies = np.fft.rfftfreq(x.size, 1 / RATE)
    fft_best = 1 / frequencies[1:][np.argmax(spectrum[1:])]
    print(f"CWT (Morlet, {cwt.plan.octaves} octaves x {cwt.plan.voices} voices): periods "
          f"{periods.min():.2f} - {periods.max():.2f} years")
    print(f"strongest period outside the cone of influence: {periods[best]:.2f} years "
          f"({counted[best]} of {x.size} quarters outside it); periodogram peak: "
          f"{fft_best:.2f} years")

    # -- El Niño years -------------------------------------------------------------------------
    enso = components[2:5].sum(axis=0)  # D3 + D4 + D5: periods of 2 to 16 years
    print("largest peaks of D3 + D4 + D5: "
          + ", ".join(f"{years[i]:.2f}" for i in sorted(peaks(enso, 4))))

    # -- the figures -----------------------------------------------------------------------
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    rows = np.concatenate([x[None], components])
    fig = plot_mra(rows, sample_rate=RATE, time_unit=TIME_UNIT, labels=["SST"] + labels,
                   title=f"Niño 3 SST anomaly and its à trous MRA ({args.wavelet}, "
                         f"{args.levels} levels)")
    fig.savefig(output, dpi=100)
    scalogram = output.with_name(output.stem + "_scalogram.png")
    fig = plot_cwt(cwt, time_unit=TIME_UNIT, log=False,
                   title="Niño 3 SST anomaly: Morlet scalogram, cone of influence shaded")
    fig.axes[0].set_ylabel("frequency (cycles per year)")
    fig.savefig(scalogram, dpi=100)
    print(f"wrote {output} and {scalogram}")
    return 0


if __name__ == "__main__":
    main()
