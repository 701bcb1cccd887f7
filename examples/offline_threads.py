"""Offline calls over threads, equal to one stream
===============================================

Offline calls of a trained model over threads: a long recording split in time, a batch
of clips split by rows, each equal to one stream over the whole input.

Runs the shipped effect model (``data/effect_model.npz``, trained by ``train_effect.py``)
on the shipped guitar recording: once as one stream (``workers=1``), once split over
``--workers`` threads (each stretch a fresh stream warmed up on the receptive field), and
on the same recording cut into a batch of clips.

Run: python examples/offline_threads.py [--workers 2] [--repeat 3]

Its figure (drawn in the gallery) shows the output with the stretches the threads ran
(each warmed up on the receptive field before its start) and the difference of the split
call to one stream over time, for the recording and for the clips of the batch.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import soundfile as sf

import wavedil
from wavedil.models.parallel import stretches

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


def shown(path: str) -> str:
    """``path`` relative to the checkout if it is inside it (no machine path printed)."""
    full = Path(path).resolve()
    return str(full.relative_to(ROOT)) if full.is_relative_to(ROOT) else path


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
    print(f"model: {shown(args.model)}, receptive field {model.receptive_field} samples")
    print(f"input: {shown(args.input)}: {x.shape[-1]} samples at {rate} Hz "
          f"({x.shape[-1] / rate:.2f} s); batch of {args.clips} clips of {clip} samples")
    errors, outputs = {}, {}
    for name, signal in (("one recording", x), ("batch of clips", batch)):
        one = model(signal, workers=1)
        split = model(signal, workers=args.workers)
        outputs[name] = (one, split)
        errors[name] = float(np.max(np.abs(split - one)) / max(np.max(np.abs(one)), 1e-30))
        t_one = best_seconds(lambda s=signal: model(s, workers=1), args.repeat)
        t_split = best_seconds(lambda s=signal: model(s, workers=args.workers), args.repeat)
        print(f"{name}: one stream {1000 * t_one:.1f} ms, {args.workers} workers "
              f"{1000 * t_split:.1f} ms; max relative difference {errors[name]:.2g} "
              f"({'EQUAL' if errors[name] <= 1e-5 else 'DIFFERENT'} within float32 tolerance)")
    draw(model, outputs, args.workers, rate)
    return errors


def draw(model, outputs: dict, workers: int, rate: int) -> None:
    """The recording's output with the stretches of the threads; ``|split - one|`` per
    10 ms for the recording and for the batch (clips end to end)."""
    import matplotlib.pyplot as plt

    one, split = outputs["one recording"]
    y = one[0]
    past = model.receptive_field - 1 - model.latency
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.4), sharex=True,
                                      layout="constrained")
    hop = rate // 100
    bins = y.size // hop
    t = (np.arange(bins) + 0.5) * hop / rate
    frames = y[: bins * hop].reshape(bins, hop)
    top.fill_between(t, frames.min(axis=1), frames.max(axis=1), color="C3", lw=0)
    for i, (start, stop) in enumerate(stretches(y.size, past + model.latency, workers)):
        top.axvspan(start / rate, stop / rate, color=f"C{i % 2}", alpha=0.12, lw=0)
        top.axvspan(max(0, start - past) / rate, start / rate, color="k", alpha=0.3, lw=0)
        top.text((start + stop) / 2 / rate, 0.92, f"thread {i + 1}", ha="center",
                 transform=top.get_xaxis_transform(), fontsize=8)
    top.set(ylabel="effect model output",
            title=f"one recording over {workers} threads: a stretch each, warmed up on "
                  f"{past} samples before it (dark)")
    for (name, (one, split)), color in zip(outputs.items(), ["C2", "C1"]):
        scale = max(float(np.max(np.abs(one))), 1e-30)
        difference = (np.abs(split - one) / scale).reshape(-1)  # clips end to end
        count = difference.size // hop
        peaks = difference[: count * hop].reshape(count, hop).max(axis=1)
        bottom.plot((np.arange(count) + 0.5) * hop / rate, 1e6 * peaks, color=color, lw=1,
                    label=f"{name}: max {float(difference.max()):.2g}")
    bottom.axhline(10, color="0.3", ls="--", lw=0.8, label="float32 tolerance 1e-5")
    bottom.set(xlabel="time (s)", ylabel="relative |split - one| (1e-6)", ylim=(-1, 12),
               title="split over threads vs one stream, max per 10 ms")
    bottom.legend(loc="center right", fontsize=8)
    bottom.margins(x=0)


if __name__ == "__main__":
    main()
