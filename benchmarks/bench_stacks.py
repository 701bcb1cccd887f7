"""The numpy stacks against torch and pytorch-tcn.

Four measurements, each checked for equal outputs before it is timed:

1. offline, 1 s of 48 kHz float32: a TCN (64 channels, K = 3, dilations 1..256: 9 blocks,
   18 convs) and a WaveNet (64 residual / 128 gate / 64 skip channels, K = 2, dilations
   1..512 twice: 20 layers), the numpy model (``wavedil.nn.export`` then
   ``wavedil.models.loader.load``, so the weights are identical) vs the torch model;
2. streaming that TCN in chunks of 1, 8, 32, 128, 512 samples: the numpy stream vs
   pytorch-tcn's streaming (``tcn(chunk, inference=True)``, batch 1) on the same weights
   (a ``pytorch_tcn.TCN`` converted with ``wavedil.nn.from_pytorch_tcn``), and at the
   chunks that take the compiled step the numpy stream with that step off (its BLAS path)
   and the numpy stream on two threads (``threads=2``);
3. in the same interleaved runs, wavedil's torch streaming mode (``with
   model.streaming(1):``) vs pytorch-tcn;
4. the compiled step of chunks 1, 8, 32 on one thread and on two (``threads=2``), alone.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import pytorch_tcn
import torch
from common import (
    MATCHED_SAMPLE_SECONDS,
    SPIN_PAUSE,
    check_close,
    matmul_peak_gflops,
    md_table,
    ms,
    pinned_threads,
    time_interleaved,
    us,
)
from torch.nn.utils import parametrize

import wavedil
import wavedil.models.tcn
from wavedil.engine.fused import WINOGRAD_MIN_SAMPLES
from wavedil.engine.history import on_cache_line
from wavedil.models.loader import load
from wavedil.nn import TCN, WaveNet, export, from_pytorch_tcn

RATE = 48_000
CHUNKS = (1, 8, 32, 128, 512)
TWO_THREAD_CHUNKS = (1, 8, 32, 64)  # the compiled step's chunks, on one thread and on two
TWO_THREAD_TARGETS = {32: 0.2}  # RTF at most on two threads (issue 17 allows two)
OFFLINE_TARGET = 1.2  # numpy throughput / torch throughput
STREAM_TARGETS = {1: 20.0, 32: 5.0, 128: 5.0}  # numpy stream speed-up over pytorch-tcn
# numpy stream RTF at most (strictly below 1), on one thread or on two (issue 17 allows 2)
RTF_TARGETS = {1: 1.0, 32: 0.2, 128: 0.4}
STREAM_TORCH_THREADS = 1  # torch's intra-op pool for the per-chunk calls (see the notes)


class Sizes:
    """The target sizes, or tiny ones for the smoke run."""

    def __init__(self, smoke: bool):
        self.smoke = smoke
        self.samples = 512 if smoke else RATE
        self.stream_samples = 512 if smoke else RATE // 4
        self.chunk1_samples = 64 if smoke else 1000
        self.repeats = 1 if smoke else 7
        # samples of about the same length on both sides of a round, so that a slow spell
        # of the shared machine (seconds long) falls on both
        self.min_time = 0.002 if smoke else MATCHED_SAMPLE_SECONDS
        self.peak_n = 512 if smoke else 2048
        self.tcn_channels = 8 if smoke else 64
        self.tcn_dilations = [1, 2, 4] if smoke else [2**i for i in range(9)]
        self.wavenet = ({"residual_channels": 8, "gate_channels": 16, "skip_channels": 8,
                         "dilations": [1, 2, 4], "stacks": 2} if smoke else
                        {"residual_channels": 64, "gate_channels": 128, "skip_channels": 64,
                         "dilations": [2**i for i in range(10)], "stacks": 2})

    def time(self, candidates):
        """Interleaved medians, each sample after a pause (see the engine's notes: spinning
        worker threads of one library slow the next one's calls)."""
        return time_interleaved(candidates, self.repeats, min_time=self.min_time,
                                pause=0.0 if self.smoke else SPIN_PAUSE)


def run(smoke: bool) -> str:
    """The Markdown section for the stack benchmarks (``smoke``: tiny models, 1 repeat)."""
    threads = pinned_threads()
    torch.set_num_threads(threads)
    sizes = Sizes(smoke)
    peak = matmul_peak_gflops(sizes.peak_n)
    torch.manual_seed(2024)
    with tempfile.TemporaryDirectory() as folder, torch.inference_mode():
        parts = [
            "## Stacks: TCN and WaveNet in numpy vs torch and pytorch-tcn", "",
            f"float32, batch 1, {RATE // 1000} kHz, causal (latency 0 samples), numpy's BLAS "
            f"on {threads} thread(s), runs interleaved, median of {sizes.repeats} rounds, "
            f"each sample at least {sizes.min_time:g} s long (repeated runs), each timed "
            f"sample after a {0.0 if sizes.smoke else SPIN_PAUSE:g} s pause (idle worker "
            "threads of the library that ran before would otherwise compete for the cores). "
            "Every pair was checked for equal outputs (max error <= 1e-5 of the output's "
            "scale) before timing. RTF = processing time / audio duration (< 1 keeps up). "
            f"Measured float32 matmul peak: {peak:.1f} GFLOP/s.", "",
            offline_section(sizes, peak, folder, threads),
        ]
        torch.set_num_threads(min(threads, STREAM_TORCH_THREADS))
        try:
            parts.append(streaming_section(sizes, peak, folder))
            parts.append(two_thread_section(sizes, folder))
            parts.append(lookahead_section(sizes))
        finally:
            torch.set_num_threads(threads)  # the next benchmark module gets the pinned count
    return "\n".join(parts)


# -- models ------------------------------------------------------------------------------
def numpy_twin(model, folder: str, name: str):
    """The numpy model read back from the exported file: the very weights torch uses."""
    path = os.path.join(folder, f"{name}.npz")
    export(model, path)
    return load(path)


def flop_per_sample(net) -> int:
    """Multiply-adds x 2 per output sample: every conv weight is used once per sample."""
    return 2 * sum(v.size for k, v in net.params.items() if k.endswith(".weight"))


def least_flop_per_sample(net, chunk: int) -> float:
    """``flop_per_sample`` with the Winograd F(2, 3) saving where a stream in chunks of
    ``chunk`` takes it (two thirds of a 3-tap conv's multiplies): the arithmetic floor."""
    flop = flop_per_sample(net)
    for conv in net.dilated_convs.values():
        if (conv.kernel_size == 3 and chunk >= WINOGRAD_MIN_SAMPLES
                and chunk % (2 * conv.dilation) == 0):
            flop -= 2 * conv.weight.size / 3
    return flop


def randomise_gains(model) -> None:
    """Weight-norm gains away from ||v|| (as after training), so folding them matters."""
    for name, p in model.named_parameters():
        if name.endswith("original0"):
            p.mul_(torch.empty_like(p).uniform_(0.5, 2.0))


def build_pytorch_tcn(sizes) -> pytorch_tcn.TCN:
    c = sizes.tcn_channels
    model = pytorch_tcn.TCN(c, [c] * len(sizes.tcn_dilations), kernel_size=3,
                            dilations=sizes.tcn_dilations, dropout=0.0).eval()
    randomise_gains(model)
    return model


# -- 1. offline --------------------------------------------------------------------------
def offline_section(sizes, peak, folder, threads) -> str:
    c = sizes.tcn_channels
    tcn = TCN(c, c, kernel_size=3, dilations=sizes.tcn_dilations).eval()
    randomise_gains(tcn)
    wavenet = WaveNet(1, kernel_size=2, **sizes.wavenet).eval()
    rng = np.random.default_rng(7)
    cases = [(f"TCN {c} ch, K=3, dilations 1..{sizes.tcn_dilations[-1]} "
              f"({2 * len(sizes.tcn_dilations)} convs)", tcn, c),
             (f"WaveNet {sizes.wavenet['residual_channels']}/"
              f"{sizes.wavenet['gate_channels']}/{sizes.wavenet['skip_channels']}, K=2, "
              f"dilations 1..{sizes.wavenet['dilations'][-1]} x{sizes.wavenet['stacks']}",
              wavenet, 1)]
    rows, misses = [], []
    for label, model, channels in cases:
        net = numpy_twin(model, folder, type(model).__name__)
        x = (0.5 * rng.standard_normal((1, channels, sizes.samples))).astype(np.float32)
        xt = torch.from_numpy(x)

        def ours(net=net, x=x):
            return net(x)

        def ours_one_stream(net=net, x=x):
            return net(x, workers=1)

        def theirs(model=model, xt=xt):
            with parametrize.cached():  # weight norm evaluated once per call
                return model(xt)

        expected = theirs().numpy()
        check_close(ours(), expected, f"offline {label}")
        check_close(ours_one_stream(), expected, f"offline {label}, one stream")
        t = sizes.time({"numpy": ours, "numpy, one stream": ours_one_stream, "torch": theirs})
        seconds = sizes.samples / RATE
        flop = flop_per_sample(net) * sizes.samples
        gn, gt = flop / t["numpy"] / 1e9, flop / t["torch"] / 1e9
        ratio = t.ratio("torch", "numpy")
        if ratio < OFFLINE_TARGET:
            misses.append(f"{label.split()[0]} {ratio:.2f}x")
        rows.append([label, f"{flop / seconds / 1e9:.3g}", ms(t["numpy"]),
                     ms(t["numpy, one stream"]), ms(t["torch"]),
                     f"{t['numpy'] / seconds:.3g}", f"{t['torch'] / seconds:.3g}",
                     f"{ratio:.2f}", f"{t.ratio('torch', 'numpy, one stream'):.2f}",
                     f"{gn:.1f} ({100 * gn / peak:.0f} %)",
                     f"{gt:.1f} ({100 * gt / peak:.0f} %)"])
    table = md_table(["model", "GFLOP per s of audio", "numpy (ms)", "numpy, one stream (ms)",
                      "torch (ms)", "numpy RTF", "torch RTF",
                      f"ratio (target >= {OFFLINE_TARGET:g})", "ratio, one stream",
                      "numpy GFLOP/s (% of peak)", "torch GFLOP/s (% of peak)"], rows)
    summary = "met on both" if not misses else "missed: " + "; ".join(misses)
    return "\n".join([
        "### Offline: numpy model vs torch model", "", table, "",
        f"{sizes.samples} samples ({sizes.samples / RATE:g} s), torch on {threads} "
        f"thread(s). The TCN takes {c} input "
        "channels (so every conv is the same size); the WaveNet one. Both sides hold the "
        "same weights: the torch model was exported with `wavedil.nn.export` and the numpy "
        "side is `wavedil.models.loader.load` of that file. torch runs under "
        "`torch.inference_mode()` with `parametrize.cached()` (the TCN's weight norm "
        "computed once per call). `numpy` is the offline call `net(x)`: split in time "
        f"over {threads} threads (`wavedil.models.parallel`), each with a one-thread BLAS; "
        "`numpy, one stream` is `net(x, workers=1)`, one stream with numpy's BLAS on "
        f"{threads} threads. GFLOP counts 2 x every conv weight per sample (the direct "
        "convolution); activations and additions are not counted, and the TCN's long "
        "blocks run Winograd F(2, 3), two thirds of those multiplies, so its numpy figure "
        "is an effective rate. Ratio = torch time / numpy time (> 1: numpy faster), the "
        "median of the per-round ratios (each round times all three back to back). "
        f"Target >= {OFFLINE_TARGET:g}x: {summary}.", ""])


# -- 2 and 3. streaming ------------------------------------------------------------------
def streaming_section(sizes, peak, folder) -> str:
    theirs_model = build_pytorch_tcn(sizes)
    torch_model = from_pytorch_tcn(theirs_model).eval()
    net = numpy_twin(torch_model, folder, "converted")
    c = sizes.tcn_channels
    rng = np.random.default_rng(11)
    x = (0.5 * rng.standard_normal((1, c, sizes.stream_samples))).astype(np.float32)
    floor_rtf = flop_per_sample(net) * RATE / (peak * 1e9)
    core_peak = peak / pinned_threads()  # the compiled step and each BLAS call: one core
    step_samples = wavedil.models.tcn.STEP_SAMPLES
    rows, misses, floor_note = [], [], ""
    for chunk in CHUNKS:
        samples = sizes.chunk1_samples if chunk == 1 else sizes.stream_samples
        chunks = [x[..., i : i + chunk] for i in range(0, samples, chunk)]
        torch_chunks = [torch.from_numpy(part) for part in chunks]
        openers = stream_openers(net, torch_model, theirs_model, chunks, torch_chunks,
                                 blas_path=chunk <= step_samples)
        reference = torch.cat(fresh_output(openers["pytorch-tcn"]), -1).numpy()
        check_close(theirs_model(torch.from_numpy(x[..., :samples])).numpy(), reference,
                    f"pytorch-tcn stream vs offline, chunk {chunk}")
        for name, opener in openers.items():
            if name != "pytorch-tcn":
                output = fresh_output(opener)
                output = torch.cat(output, -1).numpy() if name == "torch" else \
                    np.concatenate(output, -1)
                check_close(output, reference, f"{name} stream, chunk {chunk}")
        if chunk == 1:  # the memory floor of a sample, in the same rounds
            openers["weights read once per sample"] = weight_reader(net, samples)
        t = time_running(sizes, openers)
        seconds, calls = samples / RATE, len(chunks)
        if chunk == 1:
            read = t["weights read once per sample"] / samples
            floor_note = (
                f"At chunk 1 the bound is memory, not arithmetic: each sample reads every "
                f"weight once ({weight_bytes(net) / 1e3:.0f} KB of float32, which stays in a "
                f"core's L2 cache). A compiled sum over those weights (packed from a cache "
                f"line, as the step packs them), timed in the same "
                f"rounds, took {us(read)} µs per sample (RTF {read * RATE:.3g}, median); the "
                f"numpy stream took {t.ratio('numpy', 'weights read once per sample'):.2f}x "
                "that (median of the per-round ratios).")
        speedup = t.ratio("pytorch-tcn", "numpy")
        torch_speedup = t.ratio("pytorch-tcn", "torch")
        rtf_numpy = t["numpy"] / seconds
        two = "numpy, two threads"
        rtf_two = t[two] / seconds if two in t else None
        rtf_best = rtf_numpy if rtf_two is None else min(rtf_numpy, rtf_two)
        note = []
        if chunk in STREAM_TARGETS:
            note.append(f"target {STREAM_TARGETS[chunk]:g}")
            if speedup < STREAM_TARGETS[chunk]:
                misses.append(f"chunk {chunk}: {speedup:.1f}x pytorch-tcn "
                              f"(target {STREAM_TARGETS[chunk]:g})")
        if chunk in RTF_TARGETS:
            limit = RTF_TARGETS[chunk]
            if rtf_best > limit or (limit == 1.0 and rtf_best >= 1.0):
                misses.append(f"chunk {chunk}: numpy RTF {rtf_best:.2f} "
                              f"(target {'< 1' if limit == 1.0 else f'<= {limit:g}'})")
        blas = "numpy, BLAS path"
        rows.append([chunk, samples, us(t["numpy"] / calls),
                     us(t[two] / calls) if two in t else "-",
                     us(t[blas] / calls) if blas in t else "-", us(t["torch"] / calls),
                     us(t["pytorch-tcn"] / calls), f"{rtf_numpy:.3g}",
                     f"{rtf_two:.3g}" if rtf_two is not None else "-",
                     f"{t[blas] / seconds:.3g}" if blas in t else "-",
                     f"{t['torch'] / seconds:.3g}", f"{t['pytorch-tcn'] / seconds:.3g}",
                     f"{least_flop_per_sample(net, chunk) * RATE / (core_peak * 1e9):.3g}",
                     f"{speedup:.1f}" + (f" ({', '.join(note)})" if note else ""),
                     f"{torch_speedup:.1f}"])
    table = md_table(["chunk", "samples", "numpy µs/call", "numpy two threads µs/call",
                      "numpy BLAS path µs/call", "wavedil torch µs/call",
                      "pytorch-tcn µs/call", "numpy RTF", "numpy two threads RTF",
                      "numpy BLAS path RTF", "wavedil torch RTF", "pytorch-tcn RTF",
                      "floor RTF, one core", "numpy speed-up vs pytorch-tcn",
                      "wavedil torch speed-up vs pytorch-tcn"], rows)
    summary = "met everywhere" if not misses else "missed at " + "; ".join(misses)
    d = sizes.tcn_dilations
    return "\n".join([
        "### Streaming the TCN: numpy stream and wavedil torch streaming vs pytorch-tcn",
        "", table, "",
        f"TCN {c} -> {c} channels, K = 3, dilations {d[0]}..{d[-1]} ({2 * len(d)} convs, "
        f"receptive field {net.receptive_field} samples), built as a `pytorch_tcn.TCN` "
        "(weight norm, dropout 0, eval) and converted with `wavedil.nn.from_pytorch_tcn`; "
        "the numpy model is the export of that conversion. Batch 1, latency 0 samples, "
        f"{sizes.stream_samples} samples ({sizes.stream_samples / RATE:g} s) per run, "
        f"except chunk 1: {sizes.chunk1_samples} samples "
        f"({1e3 * sizes.chunk1_samples / RATE:g} ms; pytorch-tcn needs milliseconds per "
        "call). Each candidate's stream is opened once before the timing (numpy: "
        "`net.stream()`; wavedil torch: `with model.streaming(1):`; pytorch-tcn: "
        "`reset_buffers()`, then `tcn(chunk, inference=True)` per chunk) and each timed run "
        "continues it with the same pre-cut chunks, as a real-time stream runs (opening "
        f"a numpy stream and its first chunk: {stream_start_ms(net, x):.2f} ms, timed "
        "apart); the outputs were checked on streams opened for the check. "
        f"Chunks of up to {step_samples} samples run the numpy stream's compiled step (the "
        "whole TCN in one numba call per chunk: loop products for one sample, a BLAS "
        "product per tap, added in place, from two; below "
        f"{wavedil.models.tcn.TWO_THREAD_SAMPLES} samples on the calling thread alone, "
        "`threads=2` or not); `numpy BLAS path` is the "
        "same stream with that step off (a Python call per conv: a numpy matrix product, "
        "Winograd from 32 samples, between compiled passes), as longer chunks run; "
        "`numpy two threads` is the stream made with `net.stream(threads=2)` (the compiled "
        "step split over the calling thread and a worker thread, half of every conv's "
        "output channels each; see the two-thread section below). "
        f"Arithmetic floor at the measured matmul peak: RTF {floor_rtf:.3g} "
        f"({flop_per_sample(net) * RATE / 1e9:.3g} GFLOP per second of audio); `floor RTF, "
        f"one core` is the arithmetic a stream on one core must do at that chunk (Winograd "
        f"F(2, 3) counted where a chunk holds whole tiles of 2 x dilation, from "
        f"{WINOGRAD_MIN_SAMPLES} samples) at half the measured peak, the bound of any "
        "single-threaded stream. Targets: "
        "numpy RTF (one thread or two) < 1 at chunk 1, <= 0.2 at chunk 32 and <= 0.4 at "
        "chunk 128, >= 5x "
        f"pytorch-tcn at chunks 32 and 128, >= 20x at chunk 1: {summary}.", "",
        floor_note, "",
        f"Threads: torch (wavedil streaming and pytorch-tcn alike) runs these per-chunk calls "
        f"on {min(pinned_threads(), STREAM_TORCH_THREADS)} intra-op thread, numpy's BLAS on "
        f"{pinned_threads()}. A chunk's work is too small to split: probed at load ~1, "
        "pytorch-tcn took 3.05 / 4.57 / 6.20 ms per call at chunks 32 / 128 / 512 with 2 "
        "threads and 3.05 / 4.02 / 6.39 ms with 1; at load ~3 a 2-thread torch pool waited "
        "at every op for a descheduled thread (wavedil torch streaming at chunk 32: 20-140 "
        "ms per call with 2 threads, 0.8-1.7 ms with 1), which would flatter the numpy "
        "ratios.", ""])


def two_thread_section(sizes, folder) -> str:
    """The compiled step on one thread vs two (``net.stream(threads=2)``), same run."""
    net = numpy_twin(from_pytorch_tcn(build_pytorch_tcn(sizes)).eval(), folder, "threads")
    rng = np.random.default_rng(12)
    x = (0.5 * rng.standard_normal((1, sizes.tcn_channels, sizes.stream_samples))
         ).astype(np.float32)
    rows, misses = [], []
    for chunk in TWO_THREAD_CHUNKS:
        samples = sizes.chunk1_samples if chunk == 1 else sizes.stream_samples
        chunks = [x[..., i : i + chunk] for i in range(0, samples, chunk)]

        def opener(threads: int, chunks=chunks):
            def open_stream():
                stream = net.stream(threads=threads)
                return lambda: [stream.process(part) for part in chunks], stream.close
            return open_stream

        openers = {"one thread": opener(1), "two threads": opener(2)}
        check_close(np.concatenate(fresh_output(openers["one thread"]), -1),
                    np.concatenate(fresh_output(openers["two threads"]), -1),
                    f"two-thread stream vs one thread, chunk {chunk}")
        t = time_running(sizes, openers)
        seconds, calls = samples / RATE, len(chunks)
        rtf = t["two threads"] / seconds
        if chunk in TWO_THREAD_TARGETS and rtf > TWO_THREAD_TARGETS[chunk]:
            misses.append(f"chunk {chunk}: RTF {rtf:.3g} (target <= "
                          f"{TWO_THREAD_TARGETS[chunk]:g})")
        rows.append([chunk, samples, us(t["one thread"] / calls), us(t["two threads"] / calls),
                     f"{t['one thread'] / seconds:.3g}", f"{rtf:.3g}",
                     f"{t.ratio('one thread', 'two threads'):.2f}"])
    table = md_table(["chunk", "samples", "one thread µs/call", "two threads µs/call",
                      "one thread RTF", "two threads RTF", "speed-up (one / two)"], rows)
    summary = "met" if not misses else "missed at " + "; ".join(misses)
    return "\n".join([
        "### The compiled step on two threads", "", table, "",
        "The TCN above streamed by its compiled short-chunk step on the calling thread "
        "(`net.stream()`) and split over it and a worker thread (`net.stream(threads=2)`: "
        "half of every conv's output channels each, one conv after the other: a BLAS "
        "product per tap and half, added in place; chunks of fewer than "
        f"{wavedil.models.tcn.TWO_THREAD_SAMPLES} samples, as chunks 1 and 8 here, run on the "
        "calling thread alone in both), the same output within the contract's tolerance "
        "(checked). Each "
        "stream is opened once (its worker thread started) and each timed run continues "
        "it, as in the section above; the two candidates alternate, without "
        "pytorch-tcn's runs between them. The two "
        "threads need both cores: on a busy machine the calling thread does the halves "
        "the worker had no core for, and two threads are slower than one (so are they "
        "while another library's BLAS threads spin after a call: the pause before each "
        "sample parks them; and while the host runs a virtual machine's two cores "
        "on one physical core, as it does at times on the shared machine: two independent "
        "BLAS threads there take twice as long per product in such spells, which the "
        "medians include). Target on two threads (which issue 17 allows): RTF <= 0.2 at "
        f"chunk 32: {summary}.", ""])


def stream_openers(net, torch_model, theirs_model, chunks, torch_chunks,
                   blas_path: bool = False) -> dict:
    """Per candidate, a function that opens a stream and returns ``(feed, close)``:
    ``feed()`` runs the pre-cut chunks through that stream, continuing it (the outputs
    in a list), ``close()`` ends it."""
    def numpy_open(threads: int = 1, step: bool = True):
        stream = net.stream(threads=threads)

        def feed():
            saved = wavedil.models.tcn.STEP_SAMPLES
            if not step:  # the same stream with the compiled short-chunk step off
                wavedil.models.tcn.STEP_SAMPLES = 0
            try:
                return [stream.process(part) for part in chunks]
            finally:
                wavedil.models.tcn.STEP_SAMPLES = saved
        return feed, stream.close

    def torch_open():
        streaming = torch_model.streaming(1)
        streaming.__enter__()
        return (lambda: [torch_model(part) for part in torch_chunks],
                lambda: streaming.__exit__(None, None, None))

    def pytorch_tcn_open():
        theirs_model.reset_buffers()
        return lambda: [theirs_model(part, inference=True) for part in torch_chunks], \
            lambda: None

    openers = {"numpy": numpy_open, "torch": torch_open, "pytorch-tcn": pytorch_tcn_open}
    if blas_path:
        openers["numpy, BLAS path"] = lambda: numpy_open(step=False)
        openers["numpy, two threads"] = lambda: numpy_open(threads=2)
    return openers


def weight_bytes(net) -> int:
    """Bytes of the numpy model's conv weights and biases (float32)."""
    return 4 * sum(value.size for value in net.params.values())


def weight_reader(net, samples: int):
    """An opener (as ``stream_openers``') whose feed reads the model's weights ``samples``
    times, as one-sample chunks must: a compiled sum, vectorised (fastmath), one core."""
    from numba import njit

    weights = on_cache_line(np.concatenate([value.astype(np.float32).ravel()
                                            for value in net.params.values()]))

    @njit(fastmath=True, nogil=True)
    def read(w, times):
        total = np.float32(0)
        for _ in range(times):
            for i in range(w.size):
                total += w[i]
        return total

    read(weights, 1)
    return lambda: (lambda: read(weights, samples), lambda: None)


def stream_start_ms(net, x: np.ndarray, runs: int = 20) -> float:
    """Milliseconds to open a numpy stream and run its first one-sample chunk (min of
    ``runs``)."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        net.stream().process(x[..., :1])
        best = min(best, time.perf_counter() - start)
    return 1e3 * best


def fresh_output(opener) -> list:
    """The outputs of a stream opened for this one run."""
    feed, close = opener()
    try:
        return feed()
    finally:
        close()


def time_running(sizes, openers: dict):
    """``sizes.time`` of each candidate's stream opened once: every timed run continues
    it (a real-time stream runs for long; opening one is timed apart)."""
    opened = {name: opener() for name, opener in openers.items()}
    try:
        return sizes.time({name: feed for name, (feed, _) in opened.items()})
    finally:
        for _, close in opened.values():
            close()


def lookahead_section(sizes) -> str:
    """The benchmark TCN causal and centered, numpy streams past their fill, side by side."""
    d = sizes.tcn_dilations
    c = sizes.tcn_channels
    causal = wavedil.TCN(c, c, kernel_size=3, dilations=d, seed=5)
    centered = wavedil.TCN(c, c, kernel_size=3, dilations=d, alignment="centered",
                           params=causal.params)
    wavenet = wavedil.WaveNet(1, kernel_size=2, alignment="centered", seed=0, **sizes.wavenet)
    rng = np.random.default_rng(12)
    fill = 2 * centered.receptive_field
    x = (0.5 * rng.standard_normal((1, c, fill + sizes.stream_samples))).astype(np.float32)
    expected = centered(x)
    off = "centered, conv streams"
    step_samples = wavedil.models.tcn.STEP_SAMPLES
    rows = []
    for chunk in CHUNKS:
        samples = sizes.chunk1_samples if chunk == 1 else sizes.stream_samples
        chunks = [x[..., i : i + chunk] for i in range(fill, fill + samples, chunk)]
        streams = {"causal": causal.stream(), "centered": centered.stream()}
        saved = wavedil.models.tcn.lookahead_steps
        wavedil.models.tcn.lookahead_steps = lambda config: False  # (read as streams bind)
        try:
            streams[off] = centered.stream()
            streams[off].process(x[..., :fill])
        finally:
            wavedil.models.tcn.lookahead_steps = saved
        for name in ("causal", "centered"):
            streams[name].process(x[..., :fill])  # past the fill: every history full
        assert streams[off]._ahead is None and streams["centered"]._ahead is not None
        check = centered.stream()
        ahead = np.concatenate([check.process(x[..., :fill])]
                               + [check.process(part) for part in chunks], -1)
        check_close(ahead, expected[..., : ahead.shape[-1]], f"centered stream, chunk {chunk}")

        def runner(name, streams=streams, chunks=chunks):
            return lambda: [streams[name].process(part) for part in chunks]

        t = sizes.time({name: runner(name) for name in streams})
        seconds, calls = samples / RATE, len(chunks)
        rows.append([chunk, us(t["causal"] / calls), us(t["centered"] / calls),
                     us(t[off] / calls), f"{t['causal'] / seconds:.3g}",
                     f"{t['centered'] / seconds:.3g}", f"{t[off] / seconds:.3g}",
                     f"{t.ratio('centered', 'causal'):.2f}"])
    table = md_table(["chunk", "causal µs/call", "centered µs/call",
                      "centered, conv streams µs/call", "causal RTF", "centered RTF",
                      "centered, conv streams RTF", "centered / causal"], rows)
    return "\n".join([
        "### Streaming the TCN with lookahead", "", table, "",
        f"The TCN above ({c} channels, K = 3, dilations {d[0]}..{d[-1]}) with random weights, "
        f"causal (latency 0) and `alignment=\"centered\"` (latency {centered.latency} "
        "samples: each conv looks span // 2 samples ahead), the same weights, numpy streams "
        f"in float32. Both streams are past their fill ({fill} samples fed before timing, "
        "so every history is full) and each timed run continues them with the same pre-cut "
        f"chunks. Chunks of up to {step_samples} samples run the compiled step in both, "
        "longer ones the fused chain (`wavedil.models.tcn_lookahead` for the centered one: "
        "the conv streams' histories copied once into an arena that both run on); "
        "`centered, conv streams` is the centered stream without them (an engine stream "
        "per conv, between numpy passes), as it runs its fill and its flush, and as other "
        "options run. The centered stream's output was checked against the "
        "centered model offline before timing. For comparison, a centered WaveNet "
        f"({sizes.wavenet['residual_channels']}/{sizes.wavenet['gate_channels']}/"
        f"{sizes.wavenet['skip_channels']} channels, K = 2, dilations "
        f"1..{sizes.wavenet['dilations'][-1]} x {sizes.wavenet['stacks']}) holds back "
        f"{wavenet.latency} samples.", ""])
