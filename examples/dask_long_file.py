"""Denoising a long recording on Dask
===================================

A long recording on Dask: the offline and the streaming denoiser chunk by chunk, equal to
the in-memory calls, then a folder of files processed one task per file.

    python examples/dask_long_file.py [--seconds 30] [--chunk 65536] [--workers 2]

Without ``--workers`` it runs on Dask's threaded scheduler; with it, on a LocalCluster of
that many worker processes.
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


def compare(name: str, op, x: np.ndarray, chunk: int, **options) -> float:
    """Run ``op`` whole and on Dask; print both times and the largest difference."""
    start = time.perf_counter()
    whole = op(x, **options)
    middle = time.perf_counter()
    lazy = apply(op, da.from_array(x, chunks=(2, 1, chunk)), **options)
    chunked = lazy.compute()
    end = time.perf_counter()
    error = float(np.max(np.abs(chunked - whole)))
    verdict = "EQUAL" if error <= 1e-5 else "DIFFERENT"
    print(f"{name}: in memory {middle - start:.2f} s, on Dask in {lazy.numblocks[-1]} chunks "
          f"{end - middle:.2f} s; max |difference| {error:.2g}: {verdict} (float32)")
    return error


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
        errors = {
            "offline denoise": compare("offline denoise (thresholds from the whole signal)",
                                       wavedil.denoise, x, args.chunk),
            "streaming denoiser": compare("streaming Denoiser (warm-up per chunk)",
                                          wavedil.Denoiser(), x, args.chunk),
        }
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
