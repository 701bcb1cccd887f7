"""Train an effect model in PyTorch, run it in numpy
=================================================

Train a small causal TCN to emulate an overdrive pedal, then run it in numpy, streaming.

Run::

    python examples/train_effect.py [--steps N] [--output data/effect_model.npz] [--seed S]
                                    [--quick] [--plot out/train_effect.png]

The target is an effect from ``torchaudio.functional`` (``EFFECT``: a 3 kHz lowpass biquad
then ``overdrive``, gain 20 dB, colour 20; both causal, the overdrive's DC blocker decays
over ~12 ms) applied to ``data/guitar.wav``. A ``wavedil.nn.TCN`` (1 -> 12 channels,
kernel 3, dilations 1..64, a 1x1 head: about 6000 parameters, a receptive field of 509
samples = 32 ms at 16 kHz) learns it from random crops with Adam and the error-to-signal
ratio as the loss, ESR = sum((y - y_hat)^2) / sum(y^2). The script then

1. reports the ESR on the held-out ``data/guitar_test.wav`` beside trivial baselines (the
   dry input, and the dry input times its best gain);
2. exports the model with ``wavedil.nn.export`` (weight norm folded) and writes the effect,
   the sample rate and the held-out figures to a sidecar JSON beside it
   (``data/effect_model.json``), since the model file's config holds only the architecture;
3. loads it with ``wavedil.models.loader.load`` (no torch needed from here on), streams the
   test file through the numpy model in chunks of ``--chunk`` samples and prints the
   largest difference from the torch output and the real-time factor of the stream.

``--quick`` trains a tiny model for a few steps (seconds; the test suite runs it).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio
import torchaudio.functional as AF

from wavedil.models.loader import load
from wavedil.nn import TCN, export

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
THREADS = 2

# The effect, as calls of torchaudio.functional in order (biquads also get the sample rate).
EFFECT = [
    {"function": "lowpass_biquad", "cutoff_freq": 3000.0, "Q": 0.707},
    {"function": "overdrive", "gain": 20.0, "colour": 20.0},
]
FULL = {"channels": 12, "kernel_size": 3, "dilations": [1, 2, 4, 8, 16, 32, 64],
        "steps": 300, "crop": 1024, "batch": 8, "lr": 5e-3}
QUICK = {"channels": 4, "kernel_size": 3, "dilations": [1, 2, 4],
         "steps": 5, "crop": 512, "batch": 4, "lr": 5e-3}


def apply_effect(x: np.ndarray, rate: int, effect=EFFECT) -> np.ndarray:
    """The target: ``effect`` (a list of torchaudio.functional calls) applied to ``x``.

    Shape: ``(T,)`` float32 in and out.
    """
    wave = torch.from_numpy(np.ascontiguousarray(x, np.float32))[None]
    for step in effect:
        kwargs = {k: v for k, v in step.items() if k != "function"}
        function = getattr(AF, step["function"])
        if step["function"].endswith("_biquad"):
            wave = function(wave, rate, **kwargs)
        else:
            wave = function(wave, **kwargs)
    return wave[0].numpy()


def esr(target: np.ndarray, estimate: np.ndarray) -> float:
    """Error-to-signal ratio ``sum((y - y_hat)^2) / sum(y^2)`` (in float64)."""
    target, estimate = np.asarray(target, np.float64), np.asarray(estimate, np.float64)
    return float(np.sum((target - estimate) ** 2) / np.sum(target**2))


def db(ratio: float) -> float:
    return 10 * math.log10(ratio)


def read_mono(path) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(path, dtype="float32")
    if audio.ndim != 1:
        raise SystemExit(f"{path}: expected mono audio, got {audio.shape[1]} channels")
    return audio, rate


def progress(steps: int):
    """A tqdm bar when interactive and installed; otherwise None (a line every 10 %)."""
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=steps, unit="step", leave=False)


def train(model: TCN, x: np.ndarray, y: np.ndarray, plan: dict, seed: int) -> list[float]:
    """Adam on random crops of ``(x, y)``; the loss is the ESR. Returns the loss per step.

    Each crop carries ``receptive_field - 1`` samples of past input (zeros before the
    start, as the effect itself starts from silence) so that every scored output sees its
    full context.
    """
    rng = np.random.default_rng(seed)
    past = model.receptive_field - 1
    crop = min(plan["crop"], x.size)
    padded = torch.from_numpy(np.concatenate([np.zeros(past, np.float32), x]))
    target = torch.from_numpy(y)
    optimiser = torch.optim.Adam(model.parameters(), lr=plan["lr"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, plan["steps"],
                                                          eta_min=plan["lr"] / 50)
    losses, bar = [], progress(plan["steps"])
    model.train()
    for step in range(plan["steps"]):
        starts = rng.integers(0, x.size - crop + 1, plan["batch"])
        inputs = torch.stack([padded[s : s + past + crop] for s in starts])[:, None]
        targets = torch.stack([target[s : s + crop] for s in starts])[:, None]
        outputs = model(inputs)[..., past:]
        loss = ((outputs - targets) ** 2).sum() / (targets**2).sum()
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        if bar is not None:
            bar.update()
            bar.set_postfix(esr=f"{losses[-1]:.4f}")
        elif (step + 1) % max(1, plan["steps"] // 10) == 0:
            print(f"  step {step + 1}/{plan['steps']}: training ESR {losses[-1]:.4f}",
                  flush=True)
    if bar is not None:
        bar.close()
    model.eval()
    return losses


def stream_numpy(net, x: np.ndarray, chunk: int) -> tuple[np.ndarray, float]:
    """``x`` through a fresh stream of the numpy model in chunks; (output, seconds)."""
    stream = net.stream()
    start = time.perf_counter()
    parts = [stream.process(x[i : i + chunk]) for i in range(0, x.size, chunk)]
    parts.append(stream.flush())
    seconds = time.perf_counter() - start
    return np.concatenate(parts), seconds


def plot(path, losses, test_target, test_dry, prediction, rate) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_zoom) = plt.subplots(2, 1, figsize=(9, 6.5))
    ax_loss.semilogy(np.arange(1, len(losses) + 1), losses, lw=0.8)
    ax_loss.set(xlabel="step", ylabel="training ESR (crop)", title="Training loss")
    ax_loss.grid(True, which="both", alpha=0.3)
    loudest = int(np.argmax(np.abs(test_target)))  # a 25 ms window after the loudest attack
    start = max(0, loudest - int(0.005 * rate))
    window = slice(start, min(test_target.size, start + int(0.025 * rate)))
    t = np.arange(window.start, window.stop) / rate * 1e3
    ax_zoom.plot(t, test_dry[window], color="0.7", lw=1, label="dry input")
    ax_zoom.plot(t, test_target[window], lw=1.6, label="target (torchaudio)")
    ax_zoom.plot(t, prediction[window], "--", lw=1.2, label="numpy stream (TCN)")
    ax_zoom.set(xlabel="time in guitar_test.wav (ms)", ylabel="amplitude",
                title="Held-out audio, zoom")
    ax_zoom.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def describe(effect) -> str:
    return " -> ".join(f"{s['function']}(" + ", ".join(f"{k}={v:g}" for k, v in s.items()
                                                       if k != "function") + ")"
                       for s in effect)


def main(argv=None) -> dict:
    """Train, evaluate, export, stream; returns the figures, the paths and the torch model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None,
                        help=f"training steps (default {FULL['steps']}, {QUICK['steps']} "
                             f"with --quick)")
    parser.add_argument("--output", default=str(DATA / "effect_model.npz"),
                        help="the model file to write (a .json sidecar goes beside it)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="a tiny model, a few steps (seconds; for tests)")
    parser.add_argument("--chunk", type=int, default=256,
                        help="chunk size of the numpy stream (default 256)")
    parser.add_argument("--plot", default=None, metavar="PATH",
                        help="write a PNG: training loss and a zoom on held-out audio")
    parser.add_argument("--train", default=str(DATA / "guitar.wav"))
    parser.add_argument("--test", default=str(DATA / "guitar_test.wav"))
    args = parser.parse_args(argv)
    plan = dict(QUICK if args.quick else FULL)
    if args.steps is not None:
        if args.steps < 1:
            parser.error(f"--steps must be >= 1, got {args.steps}")
        plan["steps"] = args.steps
    if args.chunk < 1:
        parser.error(f"--chunk must be >= 1, got {args.chunk}")

    torch.set_num_threads(THREADS)
    torch.manual_seed(args.seed)
    x_train, rate = read_mono(args.train)
    x_test, test_rate = read_mono(args.test)
    if test_rate != rate:
        raise SystemExit(f"the test file must have the training rate {rate} Hz, "
                         f"got {test_rate} Hz")
    y_train, y_test = apply_effect(x_train, rate), apply_effect(x_test, rate)

    model = TCN(1, plan["channels"], kernel_size=plan["kernel_size"],
                dilations=plan["dilations"], out_channels=1)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"effect: {describe(EFFECT)} at {rate} Hz")
    print(f"model: TCN 1 -> {plan['channels']} channels, kernel {plan['kernel_size']}, "
          f"dilations {plan['dilations']}, {parameters} parameters (weight-norm gains "
          f"included), receptive field "
          f"{model.receptive_field} samples ({1e3 * model.receptive_field / rate:.1f} ms)")
    print(f"training: {plan['steps']} steps of {plan['batch']} crops x {plan['crop']} "
          f"samples from {Path(args.train).name} ({x_train.size / rate:.1f} s), seed "
          f"{args.seed}, {THREADS} threads")
    start = time.perf_counter()
    losses = train(model, x_train, y_train, plan, args.seed)
    train_seconds = time.perf_counter() - start
    print(f"trained in {train_seconds:.1f} s; last training ESR {losses[-1]:.4f}")

    with torch.no_grad():
        y_torch = model(torch.from_numpy(x_test)[None, None])[0, 0].numpy()
    gain = float(np.dot(x_test, y_test) / np.dot(x_test, x_test))
    results = {"esr_test": esr(y_test, y_torch), "esr_identity": esr(y_test, x_test),
               "esr_scaled_identity": esr(y_test, gain * x_test), "best_gain": gain}
    print(f"held-out ESR on {Path(args.test).name} ({x_test.size / rate:.1f} s):")
    for label, key in [("TCN (torch)", "esr_test"), ("identity: the dry input", "esr_identity"),
                       (f"dry input x {gain:.3f} (best gain)", "esr_scaled_identity")]:
        print(f"  {label:<32} ESR {results[key]:.4f} ({db(results[key]):6.2f} dB)")

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    export(model, output)
    net = load(output)  # the numpy model: no torch from here on
    y_stream, seconds = stream_numpy(net, x_test, args.chunk)
    difference = float(np.max(np.abs(y_stream.astype(np.float64) - y_torch)))
    rtf = seconds / (x_test.size / rate)
    results.update({"esr_numpy_stream": esr(y_test, y_stream), "max_abs_difference": difference,
                    "stream_rtf": rtf, "chunk": args.chunk, "stream_dtype": str(y_stream.dtype)})
    print(f"numpy stream ({type(net).__name__} from {output.name}, chunks of {args.chunk}, "
          f"{y_stream.dtype}): max |numpy - torch| = {difference:.3g} (output peak "
          f"{np.max(np.abs(y_torch)):.3f}); ESR {results['esr_numpy_stream']:.4f}; "
          f"real-time factor {rtf:.3f} ({seconds:.2f} s for {x_test.size / rate:.1f} s, "
          f"latency {net.stream().latency} samples)")

    sidecar = output.with_suffix(".json")
    metadata = {
        "model_file": output.name,
        "effect": EFFECT,
        "effect_text": f"torchaudio.functional: {describe(EFFECT)}",
        "sample_rate": rate,
        "trained_on": Path(args.train).name, "tested_on": Path(args.test).name,
        "steps": plan["steps"], "seed": args.seed,
        "parameters": {"torch": parameters, "numpy": sum(p.size for p in net.params.values())},
        "receptive_field": model.receptive_field,
        "held_out": {key: results[key] for key in
                     ("esr_test", "esr_identity", "esr_scaled_identity", "best_gain")},
        "held_out_db": {key: round(db(results[key]), 3) for key in
                        ("esr_test", "esr_identity", "esr_scaled_identity")},
        "versions": {"torch": torch.__version__.split("+")[0],
                     "torchaudio": torchaudio.__version__.split("+")[0]},
    }
    sidecar.write_text(json.dumps(metadata, indent=2) + "\n")
    print(f"wrote {output} ({output.stat().st_size} bytes) and {sidecar.name}")

    if args.plot:
        plot(args.plot, losses, y_test, x_test, y_stream, rate)
        print(f"wrote {args.plot}")
    return {**results, "output": str(output), "sidecar": str(sidecar), "losses": losses,
            "train_seconds": train_seconds, "model": model}


if __name__ == "__main__":
    main()
