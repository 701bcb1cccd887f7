"""Stream the effect model, chunk by chunk, in numpy
=================================================

The effect model shipped in ``data/effect_model.npz`` (a causal TCN that ``train_effect.py``
trained in PyTorch to emulate an overdrive, then exported) runs here without torch:
``wavedil.load`` gives the numpy model, whose stream takes the held-out guitar recording in
chunks of varying size, as an audio callback would, and returns exactly what the offline
call on the whole recording gives (latency 0: the model is causal).

Run::

    python examples/effect_streaming.py [--chunk 256]

Prints the model, its receptive field and latency, the largest difference between the
streamed and the offline output, and the real-time factor at ``--chunk`` samples; its
figure (drawn in the gallery) shows the dry input and the streamed output around the
loudest attack, with the chunk boundaries.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf

import wavedil

DATA = Path(__file__).resolve().parent.parent / "data"


def stream(model, x: np.ndarray, sizes: list[int]) -> tuple[np.ndarray, list[int]]:
    """``x`` ``(T,)`` through a fresh stream in chunks of ``sizes`` (cycled), then flushed;
    returns the output and where the chunks start."""
    s, parts, starts, start = model.stream(), [], [], 0
    while start < x.size:
        size = sizes[len(starts) % len(sizes)]
        starts.append(start)
        parts.append(s.process(x[start : start + size]))
        start += size
    parts.append(s.flush())
    return np.concatenate(parts, axis=-1), starts


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DATA / "effect_model.npz"))
    parser.add_argument("--input", default=str(DATA / "guitar_test.wav"))
    parser.add_argument("--chunk", type=int, default=256,
                        help="chunk size for the real-time factor (default 256)")
    args = parser.parse_args(argv)

    model = wavedil.load(args.model)
    x, rate = sf.read(args.input, dtype="float32")
    sidecar = Path(args.model).with_suffix(".json")
    meta = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    print(f"model: {type(model).__name__} from {Path(args.model).name}, receptive field "
          f"{model.receptive_field} samples ({1e3 * model.receptive_field / rate:.1f} ms at "
          f"{rate} Hz), stream latency {model.stream().latency} samples")
    if meta:
        print(f"effect it emulates: {meta['effect_text']}; held-out ESR recorded at training "
              f"{meta['held_out']['esr_test']:.4f} ({meta['held_out_db']['esr_test']} dB)")

    offline = model(x[None])[0]  # (1, T) in, (1, T) out
    sizes = [int(n) for n in np.random.default_rng(0).integers(1, 600, size=40)]
    streamed, starts = stream(model, x, sizes)
    error = float(np.max(np.abs(streamed - offline)))
    print(f"{Path(args.input).name}: {x.size} samples ({x.size / rate:.2f} s) in "
          f"{len(starts)} chunks of {min(sizes)} to {max(sizes)} samples: max |streamed - "
          f"offline| = {error:.3g} "
          f"({'EQUAL' if error <= 1e-5 else 'DIFFERENT'} within float32 tolerance)")

    start = time.perf_counter()
    stream(model, x, [args.chunk])
    rtf = (time.perf_counter() - start) / (x.size / rate)
    print(f"chunks of {args.chunk} samples: real-time factor {rtf:.3f} (< 1 keeps up)")
    draw(x, streamed, starts, rate)
    return {"error": error, "rtf": rtf, "chunks": len(starts)}


def draw(x: np.ndarray, y: np.ndarray, starts: list[int], rate: int) -> None:
    """Dry and streamed output over 30 ms after the loudest attack, chunk starts marked."""
    import matplotlib.pyplot as plt

    first = max(0, int(np.argmax(np.abs(y))) - int(0.005 * rate))
    window = slice(first, min(x.size, first + int(0.03 * rate)))
    t = np.arange(window.start, window.stop) / rate * 1e3
    fig, ax = plt.subplots(figsize=(8, 3.4), layout="constrained")
    ax.plot(t, x[window], color="0.6", lw=1, label="dry input")
    ax.plot(t, y[window], color="C3", lw=1.4, label="effect model, streamed")
    for n in starts:
        if window.start <= n < window.stop:
            ax.axvline(n / rate * 1e3, color="C0", lw=0.6, ls=":")
    ax.plot([], [], color="C0", lw=0.6, ls=":", label="chunk starts")
    ax.set(xlabel="time in the recording (ms)", ylabel="amplitude",
           title="numpy stream of the exported TCN, chunks of varying size")
    ax.legend(loc="upper right", fontsize=8)


if __name__ == "__main__":
    main()
