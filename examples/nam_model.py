"""A Neural Amp Modeler capture, streamed
=======================================

A Neural Amp Modeler capture (.nam) in wavedil: load it, stream audio through it in
buffers of a plugin's size, and check the stream against the offline call and against what
NAM's own PyTorch model computed for the same file.

Run: python examples/nam_model.py [--model PATH.nam] [--buffer N]

The default model is a small fixture made by NAM itself (tests/data/nam/feather.nam: the
``feather`` preset with random weights, so it distorts but sounds like no amplifier); the
audio is the shipped guitar (16 kHz, played here as if it were 48 kHz: NAM models run at
the rate they were trained at, which `wavedil filter` checks). Its figure (drawn in the
gallery) shows the input and the output, the model's transfer curve and spectrum on a
sine, and the differences, stream vs offline and wavedil vs NAM, over time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import soundfile as sf

import wavedil

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "data" / "nam"


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(FIXTURES / "feather.nam"))
    parser.add_argument("--buffer", type=int, default=64, help="samples per buffer (64)")
    args = parser.parse_args(argv)

    amp = wavedil.load(args.model)
    print(f"{amp!r}: file version {amp.info['version']}, trained at {amp.sample_rate} Hz")
    guitar, _ = sf.read(ROOT / "data" / "guitar_test.wav", dtype="float32")
    guitar = guitar[:48000]  # one second at the model's rate

    amp.stream().process(guitar[: args.buffer])  # warm-up: compiled code, silence state
    stream = amp.stream()
    start = time.perf_counter()
    parts = [stream.process(guitar[i : i + args.buffer])
             for i in range(0, len(guitar), args.buffer)]
    elapsed = time.perf_counter() - start
    streamed = np.concatenate(parts + [stream.flush()])
    offline = amp(guitar)
    differences = {"stream vs offline": np.abs(streamed - offline)}
    errors = {"stream vs offline": float(np.max(differences["stream vs offline"]))}
    print(f"streamed 1 s in buffers of {args.buffer}: real-time factor "
          f"{elapsed / (len(guitar) / 48000):.3f} (latency {stream.latency} samples)")

    expected = FIXTURES / "expected.npz"
    if Path(args.model).parent == FIXTURES and expected.exists():  # NAM's own output
        reference = np.load(expected)
        key = f"{Path(args.model).stem}.float32"
        x = reference["input"]
        relative = np.abs(amp(x) - reference[key]) / float(np.max(np.abs(reference[key])))
        differences["wavedil vs NAM (relative)"] = relative
        errors["wavedil vs NAM"] = float(np.max(relative))
    for what, error in errors.items():
        print(f"{what}: max difference {error:.2e}"
              + ("  EQUAL within float32 tolerance" if error <= 1e-5 else "  DIFFERENT"))
    draw(amp, guitar, streamed, differences, args.buffer)
    return errors


def draw(amp, x: np.ndarray, y: np.ndarray, differences: dict[str, np.ndarray],
         buffer: int) -> None:
    """Input and output around the loudest attack; the output of a sine against its input
    (the transfer curve) and its spectrum (the harmonics the model adds); the differences."""
    import matplotlib.pyplot as plt

    rate = float(amp.sample_rate or 48000)
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.4), layout="constrained")
    first = max(0, int(np.argmax(np.abs(x))) - int(0.001 * rate))
    window = slice(first, min(x.size, first + int(0.008 * rate)))
    t = np.arange(window.start, window.stop) / rate * 1e3
    ax = axes[0, 0]
    ax.plot(t, x[window], color="0.6", lw=0.8)
    ax.set(xlabel="time (ms)", ylabel="input", title="guitar in (grey), model out (red)")
    right = ax.twinx()  # the random weights' output is small: its own scale
    right.plot(t, y[window], color="C3", lw=1.2)
    right.set_ylabel(f"output, streamed in buffers of {buffer}", color="C3")

    frequency, periods = 200.0, 40  # a sine, a whole number of periods once settled
    n = int(round(periods * rate / frequency))
    tone = (0.5 * np.sin(2 * np.pi * frequency * np.arange(2 * n) / rate)).astype(np.float32)
    response = amp(tone)[n:]  # the second half: the model has settled
    ax = axes[0, 1]
    one = slice(0, int(round(rate / frequency)) + 1)
    ax.plot(tone[n:][one], response[one], color="C0", lw=1.4)
    ax.set(xlabel="input", ylabel="output",
           title=f"transfer curve on {frequency:.0f} Hz (a loop: memory)")
    ax = axes[1, 0]
    spectrum = np.abs(np.fft.rfft((response - response.mean()) * np.hanning(n)))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    ax.plot(freqs / 1e3, 20 * np.log10(spectrum / spectrum.max() + 1e-12), color="C0", lw=0.8)
    ax.set(xlim=(0, 5), ylim=(-100, 5), xlabel="frequency (kHz)", ylabel="dB re. the largest",
           title=f"spectrum of the output: harmonics of {frequency:.0f} Hz")
    ax = axes[1, 1]
    floor = 1e-12
    for (what, difference), color in zip(differences.items(), ["C2", "C1"]):
        hop = int(0.005 * rate)
        bins = difference.size // hop
        peaks = difference[: bins * hop].reshape(bins, hop).max(axis=1)
        ax.semilogy((np.arange(bins) + 0.5) * hop / rate * 1e3, np.maximum(peaks, floor),
                    color=color, lw=1, label=what)
    ax.axhline(1e-5, color="0.3", ls="--", lw=0.8, label="float32 tolerance 1e-5")
    ax.set(xlabel="time (ms)", ylabel="max |difference| per 5 ms",
           ylim=(floor / 2, 1e-3), title="differences (NAM: its own PyTorch model)")
    ax.legend(loc="upper right", fontsize=8)


if __name__ == "__main__":
    main()
