"""Denoising a long recording on Dask
===================================

A long recording on Dask: the offline and the streaming denoiser chunk by chunk, equal to
the in-memory calls, then a folder of files processed one task per file.

    python examples/dask_long_file.py [--seconds 30] [--chunk 65536] [--workers 2]

Without ``--workers`` it runs on Dask's threaded scheduler; with it, on a LocalCluster of
that many worker processes. Its figure (drawn in the gallery) shows the first channel in
and out, the output's scalogram and the difference to the in-memory calls over time, with
the chunk boundaries.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time

import dask.array as da
import numpy as np
import soundfile as sf

import wavedil
from wavedil.dask import apply, process_files

RATE = 16000


def noisy_recording(seconds: float, seed: int = 0) -> np.ndarray:
    """Two channels of chirps in white noise, ``(2, 1, T)`` float32."""
    t = np.arange(int(seconds * RATE)) / RATE
    clean = np.stack([np.sin(2 * np.pi * (200 + 40 * t) * t),
                      0.5 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)])
    noise = 0.2 * np.random.default_rng(seed).standard_normal(clean.shape)
    return (clean + noise).astype(np.float32)[:, None, :]


def compare(name: str, op, x: np.ndarray, chunk: int,
            **options) -> tuple[np.ndarray, np.ndarray]:
    """Run ``op`` whole and on Dask; print both times and the largest difference; return
    the Dask result and ``|Dask - whole|``."""
    start = time.perf_counter()
    whole = op(x, **options)
    middle = time.perf_counter()
    lazy = apply(op, da.from_array(x, chunks=(2, 1, chunk)), **options)
    chunked = lazy.compute()
    end = time.perf_counter()
    difference = np.abs(chunked - whole)
    error = float(np.max(difference))
    verdict = "EQUAL" if error <= 1e-5 else "DIFFERENT"
    print(f"{name}: in memory {middle - start:.2f} s, on Dask in {lazy.numblocks[-1]} chunks "
          f"{end - middle:.2f} s; max |difference| {error:.2g}: {verdict} (float32)")
    return chunked, difference


def draw(x: np.ndarray, y: np.ndarray, differences: dict[str, np.ndarray], chunk: int) -> None:
    """The gated tone in and out, the chirp's scalogram after (``wavedil.plot``), and
    ``|Dask - in memory|`` of each operation over time; the chunk boundaries dotted."""
    import matplotlib.pyplot as plt

    from wavedil.plot import plot_scalogram

    fig, axes = plt.subplots(3, 1, figsize=(8, 7.4), sharex=True, layout="constrained",
                             height_ratios=[1, 1.2, 0.8])
    hop = RATE // 20  # 50 ms bins
    bins = x.shape[-1] // hop
    t = (np.arange(bins) + 0.5) * hop / RATE
    for s, color, label in [(x, "0.65", "noisy"), (y, "C0", "denoised on Dask")]:
        frames = s[1, 0, : bins * hop].reshape(bins, hop)
        axes[0].fill_between(t, frames.min(axis=1), frames.max(axis=1), color=color, lw=0,
                             label=label)
    axes[0].set(ylabel="amplitude", title=f"{x.shape[-1] / RATE:.0f} s in Dask chunks of "
                                          f"{chunk} samples: the gated 440 Hz tone")
    axes[0].legend(loc="upper right", fontsize=8)
    plot_scalogram(wavedil.atrous(y[0, 0], "sym8", 7), RATE, ax=axes[1],
                   title="the other channel, the chirp, denoised: à trous scalogram "
                         "(sym8, 7 levels)")
    for (what, difference), color in zip(differences.items(), ["C2", "C1"]):
        peaks = difference[..., : bins * hop].reshape(-1, bins, hop).max(axis=(0, 2))
        axes[2].plot(t, 1e6 * peaks, color=color, lw=1.2,
                     label=f"{what}: max {float(difference.max()):.2g}")
    axes[2].axhline(10, color="0.3", ls="--", lw=0.8, label="float32 tolerance 1e-5")
    axes[2].set(xlabel="time (s)", ylabel="|Dask - in memory| (1e-6)", ylim=(-2, 15),
                title="max |difference| per 50 ms, both channels")
    axes[2].legend(loc="center right", fontsize=8)
    for ax in axes:
        for edge in range(chunk, x.shape[-1], chunk):
            ax.axvline(edge / RATE, color="k", lw=0.8, ls=":")
    axes[1].set_xlabel("")


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--chunk", type=int, default=65536, help="samples per Dask chunk")
    parser.add_argument("--workers", type=int, default=0,
                        help="worker processes of a LocalCluster (0: threads)")
    args = parser.parse_args(argv)
    x = noisy_recording(args.seconds)
    with contextlib.ExitStack() as stack:
        if args.workers:
            from distributed import Client, LocalCluster

            cluster = stack.enter_context(LocalCluster(
                n_workers=args.workers, threads_per_worker=1, dashboard_address=None))
            client = stack.enter_context(Client(cluster))
        else:
            client = None
        wavedil.denoise(x[..., :4096])  # numba compiles once, outside the timings
        offline, offline_difference = compare(
            "offline denoise (thresholds from the whole signal)", wavedil.denoise, x,
            args.chunk)
        _, streaming_difference = compare("streaming Denoiser (warm-up per chunk)",
                                          wavedil.Denoiser(), x, args.chunk)
        differences = {"offline denoise": offline_difference,
                       "streaming denoiser": streaming_difference}
        errors = {what: float(np.max(d)) for what, d in differences.items()}
        draw(x, offline, differences, args.chunk)
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        for i in range(4):
            clip = noisy_recording(args.seconds / 4, seed=i)[:, 0, :].T
            sf.write(os.path.join(folder, f"take{i}.wav"), clip, RATE, subtype="PCM_16")
        paths = sorted(os.path.join(folder, name) for name in os.listdir(folder))
        table = process_files(paths, wavedil.Denoiser(), os.path.join(folder, "clean"), client)
        print(table)
    return errors


if __name__ == "__main__":
    main()
