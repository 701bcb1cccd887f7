"""Stream a non-causal pytorch-tcn model, its lookahead held back
==============================================================

A ``pytorch_tcn.TCN`` built with ``causal=False`` looks ahead: each conv pads its input on
both sides, so an output sample depends on inputs after it. ``wavedil.nn.from_pytorch_tcn``
converts it (its per-conv padding becomes the ``alignment``) and ``wavedil.nn.to_numpy``
gives the numpy model, whose stream holds back exactly the lookahead as latency: the
output of sample ``n`` comes out once sample ``n + latency`` has come in, and ``flush()``
gives the last ``latency`` samples. The stream takes the shipped guitar recording in
chunks of varying size and returns what pytorch-tcn's own forward gives on the whole
recording; once every conv's history is full, its chunks run the compiled step (short
chunks) or the fused chain (longer ones), as a causal TCN's do.

Run::

    python examples/lookahead_stream.py [--chunk 64] [--seconds 4]

Prints the model's receptive field and latency (the lookahead the receptive-field tooling
reports), the largest difference between the stream and pytorch-tcn, and the real-time
factor at ``--chunk`` samples; its figure shows a chunk's input and the output the stream
gave for it, ``latency`` samples earlier.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import soundfile as sf

import wavedil
import wavedil.nn

DATA = Path(__file__).resolve().parent.parent / "data"


def build_model(seed: int = 0):
    """A non-causal pytorch-tcn TCN (kernel size 4, 4 blocks of 16 channels, mono in and
    out), random weights, in eval mode."""
    import pytorch_tcn
    import torch

    torch.manual_seed(seed)
    return pytorch_tcn.TCN(1, [16, 16, 16, 16], kernel_size=4, causal=False,
                           output_projection=1).eval()


def stream(model, x: np.ndarray, sizes: list[int]) -> tuple[np.ndarray, list[int]]:
    """``x`` ``(T,)`` through a fresh stream in chunks of ``sizes`` (cycled), then flushed;
    returns the output and the length of each chunk's output."""
    s, parts, start = model.stream(), [], 0
    while start < x.size:
        size = sizes[len(parts) % len(sizes)]
        parts.append(s.process(x[start : start + size]))
        start += size
    lengths = [p.size for p in parts]
    return np.concatenate(parts + [s.flush()]), lengths


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=str(DATA / "guitar_test.wav"))
    parser.add_argument("--chunk", type=int, default=64,
                        help="chunk size for the real-time factor (default 64)")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="how much of the recording to stream (default 4)")
    args = parser.parse_args(argv)
    import torch

    theirs = build_model()
    twin = wavedil.nn.to_numpy(wavedil.nn.from_pytorch_tcn(theirs))
    x, rate = sf.read(args.input, dtype="float32", frames=int(args.seconds * 16000))
    field = wavedil.receptive_field(twin)
    print(f"pytorch-tcn TCN(causal=False), kernel 4, dilations "
          f"{twin.config['dilations']}: receptive field {field.size} samples (past "
          f"{field.left}, lookahead {field.right}); stream latency {twin.latency} samples "
          f"({1e3 * twin.latency / rate:.2f} ms at {rate} Hz)")

    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)[None, None]).numpy()[0, 0]
    sizes = [int(n) for n in np.random.default_rng(0).integers(1, 200, size=40)]
    streamed, lengths = stream(twin, x, sizes)
    error = float(np.max(np.abs(streamed - expected)) / np.max(np.abs(expected)))
    print(f"{Path(args.input).name}: {x.size} samples in {len(lengths)} chunks of "
          f"{min(sizes)} to {max(sizes)} samples, then flush(): max |stream - pytorch-tcn| "
          f"/ max |pytorch-tcn| = {error:.3g} "
          f"({'EQUAL' if error <= 1e-5 else 'DIFFERENT'} within float32 tolerance)")

    start = time.perf_counter()
    stream(twin, x, [args.chunk])
    rtf = (time.perf_counter() - start) / (x.size / rate)
    print(f"chunks of {args.chunk} samples: real-time factor {rtf:.3f} (< 1 keeps up)")
    draw(x, streamed, twin.latency, args.chunk, rate)
    return {"error": error, "rtf": rtf, "latency": twin.latency,
            "lookahead": field.right}


def draw(x: np.ndarray, y: np.ndarray, latency: int, chunk: int, rate: int) -> None:
    """One chunk of input around the loudest sample and the output that came out with it:
    the stream's answer is ``latency`` samples behind its input."""
    import matplotlib.pyplot as plt

    end = (int(np.argmax(np.abs(x))) // chunk + 1) * chunk  # a chunk boundary
    show = slice(max(0, end - chunk - 2 * latency), end)
    t = np.arange(show.start, show.stop) / rate * 1e3
    fig, ax = plt.subplots(figsize=(8, 3.4), layout="constrained")
    ax.plot(t, x[show] / np.max(np.abs(x[show])), color="0.6", lw=1, label="input (scaled)")
    ready = slice(show.start, end - latency)  # what the stream had given by the chunk's end
    out = y[ready] - y[show].mean()  # (random weights: the output sits on an offset)
    ax.plot(np.arange(ready.start, ready.stop) / rate * 1e3, out / np.max(np.abs(out)),
            color="C3", lw=1.4, label="output given out by then (scaled, offset removed)")
    ax.axvspan((end - latency) / rate * 1e3, end / rate * 1e3, color="C0", alpha=0.12,
               label=f"held back: {latency} samples of lookahead")
    ax.axvline((end - chunk) / rate * 1e3, color="C0", lw=0.8, ls=":",
               label=f"the last chunk ({chunk} samples) starts")
    ax.set(xlabel="time in the recording (ms)", ylabel="amplitude (scaled)", ylim=(-1.1, 1.6),
           title="a non-causal TCN streamed: its output waits for its lookahead")
    ax.legend(loc="upper left", fontsize=8, ncol=2)


if __name__ == "__main__":
    main()
