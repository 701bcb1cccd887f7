"""A Neural Amp Modeler capture, streamed
=======================================

A Neural Amp Modeler capture (.nam) in wavedil: load it, stream audio through it in
buffers of a plugin's size, and check the stream against the offline call and against what
NAM's own PyTorch model computed for the same file.

Run: python examples/nam_model.py [--model PATH.nam] [--buffer N]

The default model is a small fixture made by NAM itself (tests/data/nam/feather.nam: the
``feather`` preset with random weights, so it distorts but sounds like no amplifier); the
audio is the shipped guitar (16 kHz, played here as if it were 48 kHz: NAM models run at
the rate they were trained at, which `wavedil filter` checks).
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
    errors = {"stream vs offline": float(np.max(np.abs(streamed - offline)))}
    print(f"streamed 1 s in buffers of {args.buffer}: real-time factor "
          f"{elapsed / (len(guitar) / 48000):.3f} (latency {stream.latency} samples)")

    expected = FIXTURES / "expected.npz"
    if Path(args.model).parent == FIXTURES and expected.exists():  # NAM's own output
        reference = np.load(expected)
        key = f"{Path(args.model).stem}.float32"
        x = reference["input"]
        errors["wavedil vs NAM"] = float(np.max(np.abs(amp(x) - reference[key])))
        errors["wavedil vs NAM"] /= float(np.max(np.abs(reference[key])))
    for what, error in errors.items():
        print(f"{what}: max difference {error:.2e}"
              + ("  EQUAL within float32 tolerance" if error <= 1e-5 else "  DIFFERENT"))
    return errors


if __name__ == "__main__":
    main()
