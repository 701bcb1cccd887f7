"""wavedil on Dask: a LocalCluster of 2 worker processes against one in-memory process.

1. a 10-minute 48 kHz recording (float32 WAV): the offline ``denoise`` (sym8, 10 levels,
   BayesShrink: thresholds from the whole signal) read, denoised and written in one
   process, against ``process_files`` on 2 workers (segments of 2^22 frames: the
   statistics passes, then the segments); the outputs compared;
2. a folder of 50 one-minute 48 kHz files (PCM_16): the same, one file after the other in
   one process, against one task per file on the 2 workers;
3. the cost of Dask itself: the round trip of an empty task, and the time per file not
   spent in the tasks;
4. memory: the peak resident memory of the in-memory process, and each worker's peak
   above its level after loading wavedil, for two segment sizes.

Each in-memory run is a fresh subprocess and each Dask run a fresh cluster, so every peak
is that run's own. One run of each (they take minutes). Smoke: 20 s and 4 one-second
files at 8 kHz, a cluster of threads, no memory figures.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf
from common import md_table

WORKERS = 2
CODE = """
import json, resource, sys, time
import numpy as np, soundfile as sf, wavedil
paths, out = json.loads(sys.argv[1]), sys.argv[2]
wavedil.denoise(np.zeros((1, 1, 4096), np.float32))
start = time.perf_counter()
for path in paths:
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    info = sf.info(path)
    y = wavedil.denoise(audio.T[:, None, :])[:, 0, :].T
    sf.write(out + "/" + path.rsplit("/", 1)[1], np.clip(y, -1, 1), rate, subtype=info.subtype)
print(json.dumps([time.perf_counter() - start,
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))
"""


def run(smoke: bool) -> str:
    if smoke:
        return sized(8000, 20, 4, 1, 1 << 14, smoke=True)
    return sized(48000, 600, 50, 60, 1 << 22)  # 87 s at 48 kHz: a 1-minute file is one task


def sized(rate: int, long_seconds: float, files: int, file_seconds: float, segment: int,
          smoke: bool = False) -> str:
    """The section for these sizes (``python benchmarks/bench_dask.py --help``)."""
    with tempfile.TemporaryDirectory() as folder:
        long_path = os.path.join(folder, "long", "recording.wav")
        write_noisy([long_path], long_seconds, rate, "FLOAT")
        paths = [os.path.join(folder, "many", f"take{i:02d}.wav") for i in range(files)]
        write_noisy(paths, file_seconds, rate, "PCM_16")
        rows = []
        memory_rows = []
        for name, inputs, seconds in (("one long file", [long_path], long_seconds),
                                      (f"{files} files", paths, files * file_seconds)):
            out = os.path.join(folder, "out-" + name.replace(" ", "-"))
            alone, alone_peak = in_memory(inputs, out + "-memory")
            dask_run = on_dask(inputs, out + "-dask", segment, smoke)
            table = dask_run["table"]
            error = compare(inputs, out + "-memory", out + "-dask")
            busy = sum(r.elapsed for r in table if r.status == "done") if len(inputs) > 1 \
                else None
            rows.append([name, f"{seconds:.0f} s", f"{alone:.1f}",
                         f"{dask_run['wall']:.1f}", f"{alone / dask_run['wall']:.2f}x",
                         f"{alone / seconds:.4f}", f"{dask_run['wall'] / seconds:.4f}",
                         "-" if busy is None else
                         f"{(WORKERS * dask_run['wall'] - busy) / len(inputs) * 1e3:.0f}",
                         f"{error:.2g}"])
            if not smoke:
                memory_rows.append([name, f"{alone_peak:.0f}",
                                    f"{segment} ({segment / rate:.0f} s)",
                                    " / ".join(f"{m:.0f}" for m in dask_run["growth"])])
        if not smoke:
            for smaller in (segment // 4,):
                again = on_dask([long_path], os.path.join(folder, "out-small"), smaller, smoke)
                memory_rows.append(["one long file", "-", f"{smaller} ({smaller / rate:.0f} s)",
                                    " / ".join(f"{m:.0f}" for m in again["growth"])])
        overhead = empty_task_round_trip(smoke)
    lines = [
        "## Dask", "",
        f"The offline `denoise` (sym8, 10 levels, BayesShrink) at {rate} Hz: one in-memory "
        f"process (read, denoise, write, file after file) against `process_files` on a "
        f"LocalCluster of {WORKERS} worker processes with one thread each "
        + ("(smoke: a cluster of threads)" if smoke else "")
        + f"; a long file in segments of {segment} frames. One run each.", "",
        md_table(["input", "audio", "in memory (s)", "Dask (s)", "speed-up", "RTF in memory",
                  "RTF Dask", "not in tasks (ms per file)", "max difference"], rows), "",
        f"An empty task's round trip on the cluster: {overhead * 1e3:.2f} ms (median of "
        f"{'50' if smoke else '500'}). 'Not in tasks': {WORKERS} x the wall time minus the "
        f"time the file tasks report, per file (scheduling, transfers, idle workers at the "
        f"end). The long file runs the statistics passes (about three transforms of each "
        f"segment) before the segments, where memory runs one transform and one synthesis: "
        f"the Dask path does about twice the arithmetic to keep every worker's memory "
        f"bounded by its segments.",
    ]
    if memory_rows:
        lines += ["", md_table(["input", "in-memory peak (MB)", "segment (frames)",
                                "peak per worker above its idle level (MB)"], memory_rows)]
    return "\n".join(lines)


def write_noisy(paths: list[str], seconds: float, rate: int, subtype: str) -> None:
    """Tones in white noise, one file per path (written in pieces: bounded memory)."""
    for i, path in enumerate(paths):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        rng = np.random.default_rng(i)
        frames, piece = int(seconds * rate), 1 << 20
        with sf.SoundFile(path, "w", rate, 1, subtype) as f:
            for a in range(0, frames, piece):
                t = np.arange(a, min(a + piece, frames)) / rate
                clean = 0.3 * np.sin(2 * np.pi * (220 + 20 * i) * t)
                f.write((clean + 0.05 * rng.standard_normal(t.size)).astype(np.float32))


def in_memory(paths: list[str], out: str) -> tuple[float, float]:
    """Seconds and peak MB of one process denoising ``paths`` one after the other."""
    os.makedirs(out, exist_ok=True)
    done = subprocess.run([sys.executable, "-c", CODE, json.dumps(paths), out],
                          capture_output=True, text=True, check=True)
    seconds, peak = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, peak


def on_dask(paths: list[str], out: str, segment: int, smoke: bool) -> dict:
    """``process_files`` on a fresh cluster: wall seconds, the table, each worker's peak
    MB above its level once wavedil is loaded."""
    from distributed import Client, LocalCluster

    import wavedil
    from wavedil.dask import process_files

    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=not smoke,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.run(_load)
        idle = client.run(_peak_mb)
        start = time.perf_counter()
        table = process_files(paths, wavedil.denoise, out, client, segment=segment)
        wall = time.perf_counter() - start
        peaks = client.run(_peak_mb)
    if table.failed:
        raise RuntimeError(f"process_files failed: {table.failed}")
    return {"wall": wall, "table": table,
            "growth": [peaks[w] - idle[w] for w in sorted(peaks)]}


def _load() -> None:
    import wavedil

    wavedil.denoise(np.zeros((1, 1, 1 << 16), np.float32))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compare(paths: list[str], first: str, second: str) -> float:
    """The largest difference between the two runs' outputs (read back as float32)."""
    worst = 0.0
    for path in paths:
        name = os.path.basename(path)
        with sf.SoundFile(os.path.join(first, name)) as a, \
                sf.SoundFile(os.path.join(second, name)) as b:
            if a.frames != b.frames:
                raise RuntimeError(f"{name}: {a.frames} frames in memory, {b.frames} on Dask")
            while True:
                x, y = a.read(1 << 20, dtype="float32"), b.read(1 << 20, dtype="float32")
                if not len(x):
                    break
                worst = max(worst, float(np.max(np.abs(x - y))))
    return worst


def empty_task_round_trip(smoke: bool) -> float:
    """Median seconds from submitting an empty task to having its result."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=not smoke,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        times = []
        for i in range(50 if smoke else 500):
            start = time.perf_counter()
            client.submit(int, i, pure=False).result()
            times.append(time.perf_counter() - start)
    return float(np.median(times))


if __name__ == "__main__":  # other sizes: python benchmarks/bench_dask.py --long 120 --files 10
    import argparse

    from common import THREADS, pin_threads

    pin_threads(THREADS)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--long", type=float, default=600, help="seconds of the long file")
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--file-seconds", type=float, default=60)
    parser.add_argument("--segment", type=int, default=1 << 22, help="frames")
    args = parser.parse_args()
    print(sized(args.rate, args.long, args.files, args.file_seconds, args.segment))
