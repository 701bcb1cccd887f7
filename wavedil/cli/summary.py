"""What the stream commands print after a run: the summary line, ``--check`` (offline
comparison) and ``--reference`` (SNR before and after)."""

from __future__ import annotations

import argparse
import io
from typing import Any, TextIO

import numpy as np
import soundfile as sf

from ..io import FilterReport
from ..receptive.field import format_duration


def print_summary(out: TextIO, args: argparse.Namespace, what: str, report: FilterReport,
                  elapsed: float, compiled: float) -> None:
    """The run in three or four lines on ``out``."""
    seconds = report.frames / report.sample_rate
    rtf = f"{elapsed / seconds:.4f}" if seconds else "n/a (no audio)"
    print(f"{args.input} -> {args.output}: {what}", file=out)
    if compiled > 0:
        print(f"compiled the kernels in {compiled:.1f} s (not in the real-time factor; "
              f"numba caches them for the next run)", file=out)
    print(f"{report.frames} samples x {report.channels} channel(s) at {report.sample_rate} Hz "
          f"({seconds:.2f} s) in {report.blocks} blocks of {args.block}, {report.subtype}; "
          f"latency {report.latency} samples "
          f"({format_duration(report.latency / report.sample_rate)}); real-time factor {rtf}",
          file=out)
    if report.clipped:
        print(f"clipped {report.clipped} sample(s) beyond full scale writing {report.subtype} "
              f"(--subtype FLOAT keeps them, --no-clip refuses)", file=out)


def check_against_offline(op: Any, input_path: str, output_path: str, out: TextIO) -> None:
    """Print how the written file compares with the offline result: as floats, and (for
    integer formats) with the offline result written the same way, sample by sample."""
    audio, rate = sf.read(input_path, dtype="float32", always_2d=True)
    written, _ = sf.read(output_path, dtype="float32", always_2d=True)
    offline = op(audio.T[:, None, :])[:, 0, :].T
    info = sf.info(output_path)
    bits = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}.get(info.subtype)
    step = f"; one {info.subtype} step is {2.0 ** (1 - bits):.3g}" if bits else ""
    print(f"offline check: max |written - offline| = "
          f"{float(np.max(np.abs(written - offline), initial=0.0)):.3g}{step}", file=out)
    if bits:  # the offline result through the same quantisation
        memory = io.BytesIO()
        sf.write(memory, np.clip(offline, -1, 1), rate, subtype=info.subtype,
                 format=info.format)
        memory.seek(0)
        same_way, _ = sf.read(memory, dtype="float32", always_2d=True)
        steps = np.rint(np.abs(written - same_way) * 2.0 ** (bits - 1))
        print(f"offline written as {info.subtype}: {np.count_nonzero(steps == 0)} of "
              f"{steps.size} samples identical, the rest within "
              f"{int(np.max(steps, initial=0))} step(s)", file=out)


def snr_report(reference: str, input_path: str, output_path: str, out: TextIO,
               block: int = 65536) -> None:
    """Print the SNR (dB) of the input and of the output against ``reference``, reading
    the three files block by block."""
    sums = np.zeros(3)
    with sf.SoundFile(reference) as r, sf.SoundFile(input_path) as i, \
            sf.SoundFile(output_path) as o:
        if not (r.frames == i.frames == o.frames and r.channels == i.channels):
            raise ValueError(f"{reference}: {r.frames} frames x {r.channels} channel(s), the "
                             f"input {i.frames} x {i.channels}: they must match")
        while True:
            c, x, y = (f.read(block, dtype="float64", always_2d=True) for f in (r, i, o))
            if not len(c):
                break
            sums += [np.sum(c * c), np.sum((x - c) ** 2), np.sum((y - c) ** 2)]

    def db(noise: float) -> str:
        return "inf" if noise == 0 else f"{10 * np.log10(sums[0] / noise):.2f}"

    print(f"SNR against {reference}: input {db(sums[1])} dB, output {db(sums[2])} dB "
          f"({'+' if sums[2] <= sums[1] else ''}"
          f"{10 * np.log10(max(sums[1], 1e-300) / max(sums[2], 1e-300)):.2f} dB)", file=out)
