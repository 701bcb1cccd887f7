"""Stream a recording through a dilated stack
==========================================

The README's main job: stream a shipped recording through a dilated stack, chunk by chunk,
and show that the streamed result equals the offline one.

Run: python examples/demo.py [--input data/speech.wav] [--output out/demo.wav]

Its figure (drawn in the gallery) shows the input and the streamed output over 100 ms with
the chunk starts, and the difference to the offline output over the whole recording.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from wavedil import Stack, run_stream

ROOT = Path(__file__).resolve().parent.parent


def build_stack(seed: int = 0) -> Stack:
    """Four causal layers, kernel 3, dilations 1, 4, 16, 64: a 1 -> 8 -> 8 -> 8 -> 1 stack."""
    layers = [{"channels": c, "kernel_size": 3, "dilation": 4**i, "activation": "tanh"}
              for i, c in enumerate([8, 8, 8])]
    layers.append({"channels": 1, "kernel_size": 3, "dilation": 64, "activation": None})
    return Stack(layers, in_channels=1, seed=seed)


def shown(path: str) -> str:
    """``path`` relative to the checkout if it is inside it (no machine path printed)."""
    full = Path(path).resolve()
    return str(full.relative_to(ROOT)) if full.is_relative_to(ROOT) else path


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", default=str(ROOT / "data" / "speech.wav"))
    parser.add_argument("--output", default=str(ROOT / "out" / "demo.wav"))
    args = parser.parse_args(argv)
    audio, rate = sf.read(args.input, dtype="float32")
    x = audio[None, :]  # (C=1, T)
    stack = build_stack()
    offline = stack(x)
    chunk_sizes = list(np.random.default_rng(1).integers(1, 700, size=50))
    start = time.perf_counter()
    streamed = run_stream(stack, x, chunk_sizes)
    elapsed = time.perf_counter() - start
    error = float(np.max(np.abs(streamed - offline)))
    seconds = x.shape[-1] / rate
    print(f"input: {shown(args.input)} ({x.shape[-1]} samples, {rate} Hz, {seconds:.2f} s)")
    dilations = [layer["dilation"] for layer in stack.config["layers"]]
    print(f"stack: {len(dilations)} causal layers, kernel 3, dilations {dilations}, "
          f"receptive field {stack.receptive_field} samples, latency 0")
    print(f"streamed in {len(chunk_sizes)} cycled chunk sizes from {min(chunk_sizes)} to "
          f"{max(chunk_sizes)} samples: real-time factor {elapsed / seconds:.4f}")
    print(f"max |streamed - offline| = {error:.3g} (float32): "
          f"{'EQUAL' if error <= 1e-5 else 'DIFFERENT'}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    sf.write(args.output, streamed[0] / max(1e-9, np.max(np.abs(streamed))), rate)
    print(f"wrote {shown(args.output)}")
    draw(x[0], streamed[0], offline[0], chunk_sizes, rate)
    return error


def draw(x: np.ndarray, streamed: np.ndarray, offline: np.ndarray, sizes: list,
         rate: int) -> None:
    """Input and streamed output over 100 ms around the loudest sample, the chunk starts
    dotted; ``|streamed - offline|`` per 10 ms over the whole recording."""
    import matplotlib.pyplot as plt

    starts = np.cumsum([0] + [sizes[i % len(sizes)] for i in range(x.size)])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.4), layout="constrained")
    first = max(0, int(np.argmax(np.abs(x))) - int(0.02 * rate))
    window = slice(first, min(x.size, first + int(0.1 * rate)))
    t = np.arange(window.start, window.stop) / rate * 1e3
    top.plot(t, x[window], color="0.6", lw=0.8)
    for n in starts[(starts >= window.start) & (starts < window.stop)]:
        top.axvline(n / rate * 1e3, color="C0", lw=1, ls=":")
    top.set(xlabel="time (ms)", ylabel="speech in (grey)",
            title=f"a random 4-layer dilated stack, streamed in chunks of {min(sizes)} to "
                  f"{max(sizes)} samples (starts dotted)")
    right = top.twinx()  # the random stack's output: its own scale
    right.plot(t, streamed[window], color="C3", lw=1)
    right.set_ylabel("output, streamed", color="C3")
    hop = rate // 100
    bins = x.size // hop
    difference = np.abs(streamed - offline)[: bins * hop].reshape(bins, hop).max(axis=1)
    bottom.plot((np.arange(bins) + 0.5) * hop / rate, 1e6 * difference, color="C2", lw=1,
                label=f"max {float(difference.max()):.2g}")
    bottom.axhline(10, color="0.3", ls="--", lw=0.8, label="float32 tolerance 1e-5")
    bottom.set(xlabel="time (s)", ylabel="|streamed - offline| (1e-6)", ylim=(-1, 12),
               title="streamed vs offline, max per 10 ms")
    bottom.legend(loc="center right", fontsize=8)
    bottom.margins(x=0)


if __name__ == "__main__":
    main()
