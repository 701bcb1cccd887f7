"""Offline calls over threads, equal to one stream
===============================================

Offline calls of a trained model over threads: a long recording split in time, a batch
of clips split by rows, each equal to one stream over the whole input.

Runs the shipped effect model (``data/effect_model.npz``, trained by ``train_effect.py``)
on the shipped guitar recording: once as one stream (``workers=1``), once split over
``--workers`` threads (each stretch a fresh stream warmed up on the receptive field), and
on the same recording cut into a batch of clips.

Run: python examples/offline_threads.py [--workers 2] [--repeat 3]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import soundfile as sf

import wavedil

ROOT = Path(__file__).resolve().parent.parent


def best_seconds(fn, repeat: int) -> float:
    """The best wall time of ``repeat`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "data" / "effect_model.npz"))
    parser.add_argument("--input", default=str(ROOT / "data" / "guitar.wav"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clips", type=int, default=4, help="clips in the batch")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    model = wavedil.load(args.model)
    audio, rate = sf.read(args.input, dtype="float32", always_2d=True)
    x = audio.T[:1]  # (1, T): the first channel
    clip = x.shape[-1] // args.clips
    batch = x[0, : clip * args.clips].reshape(args.clips, 1, clip)  # (B, 1, T / B)
    print(f"model: {args.model}, receptive field {model.receptive_field} samples")
    print(f"input: {args.input}: {x.shape[-1]} samples at {rate} Hz "
          f"({x.shape[-1] / rate:.2f} s); batch of {args.clips} clips of {clip} samples")
    errors = {}
    for name, signal in (("one recording", x), ("batch of clips", batch)):
        one = model(signal, workers=1)
        split = model(signal, workers=args.workers)
        errors[name] = float(np.max(np.abs(split - one)) / max(np.max(np.abs(one)), 1e-30))
        t_one = best_seconds(lambda s=signal: model(s, workers=1), args.repeat)
        t_split = best_seconds(lambda s=signal: model(s, workers=args.workers), args.repeat)
        print(f"{name}: one stream {1000 * t_one:.1f} ms, {args.workers} workers "
              f"{1000 * t_split:.1f} ms; max relative difference {errors[name]:.2g} "
              f"({'EQUAL' if errors[name] <= 1e-5 else 'DIFFERENT'} within float32 tolerance)")
    return errors


if __name__ == "__main__":
    main()
