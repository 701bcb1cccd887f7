"""A live continuous wavelet transform: Morlet scalogram
=======================================================

A Morlet scalogram of the shipped guitar, offline and live, with its cone of influence.

Run::

    python examples/cwt_scalogram.py [--input data/guitar.wav] [--seconds 3]
                                     [--octaves 8] [--voices 12] [--output out/cwt.png]

Holschneider's continuous wavelet transform (``wavedil.cwt``: 8 octaves x 12 voices of the
Morlet wavelet, the two highest octaves direct, the others à trous) of a few seconds of
``data/guitar.wav`` (16 kHz). The script prints the bands' frequency range, the latency of
the live form and its real-time factor in chunks of 512 samples, checks that the stream
gives the offline coefficients bit for bit, does the same for the decimated stream
(``op.stream(decimate=True)``: octave j every 2^j samples, a list of per-octave chunks,
equal to ``wavedil.cwt(x, decimate=True)``), names the strongest band (mean magnitude) per
half second (the notes' fundamentals and partials), and writes the scalogram
(log-frequency axis, the cone of influence shaded) as a PNG file.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import soundfile as sf

import wavedil
from wavedil.plot import plot_cwt

DATA = Path(__file__).resolve().parent.parent / "data"
CHUNK = 512


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=str(DATA / "guitar.wav"))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--octaves", type=int, default=8)
    parser.add_argument("--voices", type=int, default=12)
    parser.add_argument("--output", default="out/cwt_scalogram.png", help="the figure (PNG)")
    args = parser.parse_args(argv)

    audio, rate = sf.read(args.input, dtype="float32", always_2d=True)
    x = audio[: int(args.seconds * rate)].mean(axis=1)
    result = wavedil.cwt(x, octaves=args.octaves, voices=args.voices, sample_rate=rate)
    f = result.frequencies
    print(f"{Path(args.input).name}: {x.size} samples at {rate} Hz; Morlet, {args.octaves} "
          f"octaves x {args.voices} voices, {f.max():.0f} Hz down to {f.min():.1f} Hz")

    op = wavedil.CWT(octaves=args.octaves, voices=args.voices)
    stream = op.stream()
    start = time.perf_counter()
    parts = [stream.process(x[i : i + CHUNK]) for i in range(0, x.size, CHUNK)]
    seconds = time.perf_counter() - start
    live = np.concatenate(parts + [stream.flush()], axis=-1)
    equal = np.array_equal(live, result.coefficients)
    print(f"live: chunks of {CHUNK}, latency {op.latency} samples "
          f"({1000 * op.latency / rate:.1f} ms), real-time factor {seconds * rate / x.size:.3f}"
          f"; equal to offline bit for bit: {equal}")

    sparse = op.stream(decimate=True)  # octave j every 2^j samples: a list per chunk
    start = time.perf_counter()
    parts = [sparse.process(x[i : i + CHUNK]) for i in range(0, x.size, CHUNK)]
    seconds = time.perf_counter() - start
    parts.append(sparse.flush())
    decimated = wavedil.cwt(x, octaves=args.octaves, voices=args.voices, decimate=True)
    same = all(np.array_equal(np.concatenate([p[j] for p in parts], axis=-1),
                              decimated.octave(j)) for j in range(args.octaves))
    kept = sum(decimated.octave(j).size for j in range(args.octaves))
    print(f"decimated live: real-time factor {seconds * rate / x.size:.3f}, "
          f"{kept / result.coefficients.size:.0%} of the coefficients; equal to offline "
          f"bit for bit: {same}")
    equal = equal and same

    magnitude = np.abs(result.coefficients)
    step = rate // 2
    for start in range(0, x.size - step + 1, step):
        strongest = int(np.argmax(magnitude[:, start : start + step].mean(axis=1)))
        print(f"  {start / rate:4.1f} s: strongest band {f[strongest]:7.1f} Hz "
              f"(cone of influence {result.cone[strongest] / rate * 1000:.1f} ms)")

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig = plot_cwt(result, title=f"{Path(args.input).name}: Morlet scalogram, cone of influence "
                                 f"shaded")
    fig.savefig(output, dpi=100)
    print(f"wrote {output}")
    return 0 if equal else 1


if __name__ == "__main__":
    if main():  # the gallery runs this in its own process: exit only on a failure
        raise SystemExit(1)
