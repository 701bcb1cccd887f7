"""wavedil on Dask: a LocalCluster of 2 worker processes against one in-memory process.

1. a 10-minute 48 kHz recording (float32 WAV): the offline ``denoise`` (sym8, 10 levels,
   BayesShrink: thresholds from the whole signal) read, denoised and written in one
   process, against ``process_files`` on 2 workers (segments of 2^22 frames: the
   statistics passes, then the segments); the outputs compared;
2. a folder of 50 one-minute 48 kHz files (PCM_16): the same, one file after the other in
   one process, against one task per file on the 2 workers;
3. the cost of Dask itself: the round trip of an empty task, and the time per file not
   spent in the tasks;
4. memory: the resident memory of the in-memory process and of each worker above its
   level after loading wavedil (sampled), for two segment sizes.

Each in-memory run is a fresh subprocess and each Dask run a fresh cluster; rounds
interleaved, in memory then Dask (DESIGN.md), each side's total reported. Smoke: 20 s and
4 one-second files at 8 kHz, a cluster of threads, no memory figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf
from common import md_table

WORKERS = 2
SAMPLER = """
import threading, time, psutil
def start_sampler():
    process = psutil.Process()
    state = {"idle": process.memory_info().rss, "peak": 0, "run": True}
    def loop():
        while state["run"]:
            state["peak"] = max(state["peak"], process.memory_info().rss)
            time.sleep(0.002)
    threading.Thread(target=loop, daemon=True).start()
    return state
def stop_sampler(state):
    state["run"] = False
    return max(state["peak"] - state["idle"], 0) / 2**20
"""
CODE = SAMPLER + """
import json, sys
import numpy as np, soundfile as sf, wavedil
paths, out = json.loads(sys.argv[1]), sys.argv[2]
wavedil.denoise(np.zeros((1, 1, 1 << 16), np.float32))
state = start_sampler()
start, cpu = time.perf_counter(), time.process_time()
for path in paths:
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    info = sf.info(path)
    y = wavedil.denoise(audio.T[:, None, :])[:, 0, :].T
    sf.write(out + "/" + path.rsplit("/", 1)[1], np.clip(y, -1, 1), rate, subtype=info.subtype)
print(json.dumps([time.perf_counter() - start, time.process_time() - cpu, stop_sampler(state)]))
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
        rows, memory_rows = [], []
        long_rounds, file_rounds = (1, 2) if smoke else (2, 5)
        for name, inputs, seconds, rounds in (
                ("one long file", [long_path], long_seconds, long_rounds),
                (f"{files} files", paths, files * file_seconds, file_rounds)):
            out = os.path.join(folder, "out-" + name.replace(" ", "-"))
            alone, ours = interleaved(inputs, out, segment, smoke, rounds)
            error = compare(inputs, out + "-memory", out + "-dask")
            rows.append([name, f"{seconds:.0f} s", f"{alone['wall']:.1f}",
                         f"{alone['cpu']:.1f}", f"{ours['wall']:.1f}", f"{ours['cpu']:.1f}",
                         f"{np.median(ours['ratios']):.2f}x",
                         f"{ours['cpu'] / alone['cpu']:.2f}",
                         f"{(WORKERS * ours['wall'] - ours['busy']) / len(inputs) * 1e3:.0f}"
                         if len(inputs) > 1 else "-", f"{error:.2g}"])
            pair = ours["pair"]
            if pair["ratios"]:
                rows.append([f"{name}, {WORKERS} plain processes (no Dask)", f"{seconds:.0f} s",
                             "-", "-", f"{pair['wall']:.1f}", f"{pair['cpu']:.1f}",
                             f"{np.median(pair['ratios']):.2f}x",
                             f"{pair['cpu'] / alone['cpu']:.2f}", "-", "-"])
            if not smoke:
                memory_rows.append([name, f"{alone['memory']:.0f}",
                                    f"{segment} ({segment / rate:.0f} s)",
                                    " / ".join(f"{m:.0f}" for m in ours["memory"])])
        if not smoke:
            smaller = segment // 4
            again = on_dask([long_path], os.path.join(folder, "out-small"), smaller, smoke)
            memory_rows.append(["one long file", "-", f"{smaller} ({smaller / rate:.0f} s)",
                                " / ".join(f"{m:.0f}" for m in again["memory"])])
        overhead, background = empty_task_round_trip(smoke)
    lines = [
        "## Dask", "",
        f"The offline `denoise` (sym8, 10 levels, BayesShrink) at {rate} Hz: one in-memory "
        f"process (read, denoise, write, file after file) against `process_files` on a "
        f"LocalCluster of {WORKERS} worker processes with one thread each"
        + (" (smoke: a cluster of threads)" if smoke else "")
        + f"; a long file in segments of {segment} frames. Rounds interleaved, in memory then "
        f"Dask ({long_rounds} of the long file, {file_rounds} of {files // file_rounds} "
        f"files): times are the sums (long file: the means), the speed-up the median of "
        f"the rounds' ratios. CPU: the seconds "
        f"of processor time the in-memory process, and the workers and this process (client "
        f"and scheduler) together, used: on a shared machine the wall-clock speed-up follows "
        f"the share of the cores the runs get, the CPU ratio does not.", "",
        md_table(["input", "audio", "in memory (s)", "CPU (s)", "Dask (s)", "CPU (s)",
                  "speed-up", "CPU Dask / memory", "not in tasks (ms per file)",
                  "max difference"], rows), "",
        f"An empty task's round trip on the cluster: {overhead * 1e3:.2f} ms (median of "
        f"{'50' if smoke else '500'}). 'Not in tasks': {WORKERS} x the wall time minus the "
        f"time the file tasks report, per file (scheduling, transfers, idle workers at the "
        f"end). Idle, the cluster and this process use {background:.2f} processor "
        f"seconds per second (heartbeats, profiling, event loops): part of the Dask CPU "
        f"column, in proportion to the wall time. The long file runs the statistics passes "
        f"(about two more transforms of each segment) before the segments: more arithmetic "
        f"than in memory, where the median partitions every level instead, so that every "
        f"worker's memory stays bounded by its segments. The row of {WORKERS} plain "
        f"processes (no Dask, each given every other file, started together, in the same "
        f"rounds) is this machine's own ceiling for {WORKERS} processes: where its CPU ratio "
        f"exceeds 1, the cores slow each other down (shared memory bandwidth and caches), "
        f"not Dask.",
    ]
    if memory_rows:
        lines += ["", "Memory: the resident memory above the level after loading wavedil "
                  "(sampled every 2 ms), of the in-memory process and of each worker.", "",
                  md_table(["input", "in memory (MB)", "segment (frames)",
                            "per worker (MB)"], memory_rows)]
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


def interleaved(paths: list[str], out: str, segment: int, smoke: bool,
                rounds: int) -> tuple[dict, dict]:
    """In memory then on Dask, round after round, each round on its share of ``paths``
    (all of them for one file, then averaged): the two sides' totals."""
    alone: dict = {"wall": 0.0, "cpu": 0.0, "memory": 0.0}
    pair: dict = {"wall": 0.0, "cpu": 0.0, "ratios": []}  # 2 plain processes: the ceiling
    ours: dict = {"wall": 0.0, "cpu": 0.0, "busy": 0.0, "memory": [0.0] * WORKERS,
                  "ratios": []}
    repeat = len(paths) == 1
    for k in range(rounds):
        share = paths if repeat else paths[k::rounds]
        a = in_memory(share, out + "-memory")
        b = on_dask(share, out + "-dask", segment, smoke, overwrite=repeat)
        ours["ratios"].append(a["wall"] / b["wall"])
        if not repeat:
            c = in_memory(share, out + "-pair", WORKERS)
            pair["ratios"].append(a["wall"] / c["wall"])
            pair["wall"] += c["wall"]
            pair["cpu"] += c["cpu"]
        scale = 1 / rounds if repeat else 1.0
        for side, run in ((alone, a), (ours, b)):
            side["wall"] += run["wall"] * scale
            side["cpu"] += run["cpu"] * scale
        alone["memory"] = max(alone["memory"], a["memory"])
        ours["busy"] += sum(r.elapsed for r in b["table"] if r.status == "done") * scale
        ours["memory"] = [max(m, n) for m, n in zip(ours["memory"], b["memory"])]
    ours["pair"] = pair
    return alone, ours


def in_memory(paths: list[str], out: str, processes: int = 1) -> dict:
    """Wall and CPU seconds, and the memory, of ``processes`` plain processes (no Dask)
    started together, each denoising its share of ``paths`` in turn (the wall time of the
    slowest, the CPU of all, the memory of the largest)."""
    os.makedirs(out, exist_ok=True)
    runs = [subprocess.Popen([sys.executable, "-c", CODE, json.dumps(paths[k::processes]),
                              out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for k in range(processes)]
    results = []
    for run in runs:
        stdout, stderr = run.communicate()
        if run.returncode:
            raise RuntimeError(f"the in-memory process failed: {stderr[-2000:]}")
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    return {"wall": max(r[0] for r in results), "cpu": sum(r[1] for r in results),
            "memory": max(r[2] for r in results)}


def on_dask(paths: list[str], out: str, segment: int, smoke: bool,
            overwrite: bool = False) -> dict:
    """``process_files`` on a fresh cluster: wall and CPU seconds, the table, and each
    worker's memory above its level once wavedil is loaded."""
    from distributed import Client, LocalCluster

    import wavedil
    from wavedil.dask import process_files

    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=not smoke,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.run(_load)
        client.run(_start)
        cpu = _cpu(client, smoke)
        start = time.perf_counter()
        table = process_files(paths, wavedil.denoise, out, client, segment=segment,
                              overwrite=overwrite)
        wall = time.perf_counter() - start
        cpu = _cpu(client, smoke) - cpu
        memory = client.run(_stop)
    if table.failed:
        raise RuntimeError(f"process_files failed: {table.failed}")
    return {"wall": wall, "cpu": cpu, "table": table,
            "memory": [memory[w] for w in sorted(memory)]}


def _cpu(client: object, threads: bool) -> float:
    """Processor seconds so far of this process and (unless they are its threads) of the
    worker processes."""
    if threads:
        return time.process_time()
    return sum(client.run(time.process_time).values()) + time.process_time()  # type: ignore


def _load() -> None:
    import wavedil

    wavedil.denoise(np.zeros((1, 1, 1 << 16), np.float32))


def _start(dask_worker: object = None) -> None:
    namespace: dict = {}
    exec(SAMPLER, namespace)
    dask_worker.wavedil_memory = (namespace, namespace["start_sampler"]())  # type: ignore


def _stop(dask_worker: object = None) -> float:
    namespace, state = dask_worker.wavedil_memory  # type: ignore
    return namespace["stop_sampler"](state)


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


def empty_task_round_trip(smoke: bool) -> tuple[float, float]:
    """Median seconds from submitting an empty task to having its result; and the
    processor seconds per second the idle cluster and this process use (heartbeats,
    profiling, event loops)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=not smoke,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        times = []
        for i in range(50 if smoke else 500):
            start = time.perf_counter()
            client.submit(int, i, pure=False).result()
            times.append(time.perf_counter() - start)
        idle = 1.0 if smoke else 10.0
        cpu = _cpu(client, smoke)
        time.sleep(idle)
        cpu = (_cpu(client, smoke) - cpu) / idle
    return float(np.median(times)), cpu
