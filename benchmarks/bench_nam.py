"""Neural Amp Modeler's standard preset: wavedil's stream against NAM's own model and
onnxruntime, one thread each.

The model: NAM's ``standard`` WaveNet (two layer arrays of 16 and 8 channels, 3 taps,
dilations 1..512 each: 13,802 weights, receptive field 4093), built by
``neural-amp-modeler`` with its random initialisation, written to a ``.nam`` file and read
by ``wavedil.load`` (so the weights are identical; the outputs are checked equal first).
The audio: 1 s at 48 kHz, float32. Candidates, timed interleaved per buffer size:

- wavedil's stream (``model.stream()``, one ``process`` per buffer);
- NAM's PyTorch model offline (one call on the whole second) and recomputed per buffer
  (a call on the buffer and the ``receptive_field - 1`` samples before it: what a host
  without streaming state must do);
- the exported streaming step (``wavedil.nn.export_onnx``, state fed back) in onnxruntime,
  one intra-op thread.

RTF = processing time / audio duration (< 1 keeps up). Targets (issue 16): buffers of 64
at most NAM's offline cost, RTF < 1 at buffer 1. Run with ``env -u OPENBLAS_CORETYPE -u
OPENBLAS_VERBOSE`` so numpy's BLAS picks its own kernel (the machine report names it).
At smoke size NAM's model is not timed (importing it takes tens of seconds).
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np
from common import check_close, md_table, time_interleaved

import wavedil
from wavedil.models.nam import NAM
from wavedil.nn import export_onnx

RATE = 48_000
BUFFERS = (1, 16, 64, 512)
TARGETS = {64: "<= NAM offline", 1: "< 1"}
TEN = [1 << i for i in range(10)]


def nam_standard():
    """NAM's standard preset as NAM builds it, and its ``.nam`` dict."""
    import torch
    from nam.models.wavenet import WaveNet

    def array(inputs, channels, head, bias):
        return {"input_size": inputs, "condition_size": 1, "channels": channels,
                "kernel_sizes": [3] * 10, "dilations": TEN, "activation": "Tanh",
                "head": {"out_channels": head, "kernel_size": 1, "bias": bias}}

    torch.manual_seed(0)
    model = WaveNet.init_from_config({"layers_configs": [array(1, 16, 8, False),
                                                         array(16, 8, 1, True)],
                                      "head": None, "head_scale": 0.02,
                                      "sample_rate": RATE}).eval()
    data = {"version": "0.7.0", "architecture": "WaveNet", "metadata": {},
            "config": model._export_config(), "weights": model._export_weights().tolist(),
            "sample_rate": RATE}
    return model, data


def audio(n: int) -> np.ndarray:
    t = np.arange(n) / RATE
    rng = np.random.default_rng(0)
    return (0.5 * np.sin(2 * np.pi * 110 * t) * np.exp(-t)
            + 0.05 * rng.standard_normal(n)).astype(np.float32)


def streamer(amp, x, buffer):
    def run():
        stream = amp.stream()
        for i in range(0, len(x), buffer):
            stream.process(x[i : i + buffer])
    return run


def onnx_streamer(path, x, buffer):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    fresh = {i.name: np.zeros(i.shape, np.float32) for i in session.get_inputs()[1:]}
    chunks = x.reshape(-1, 1, 1, buffer)

    def run():
        states = fresh
        for chunk in chunks:
            result = session.run(None, {"x": chunk, **states})
            states = dict(zip(names[1:], result[1:]))
    return run


def nam_per_buffer(model, x, buffer, past):
    import torch

    padded = torch.from_numpy(np.concatenate([np.zeros(past, np.float32), x]))[None]

    def run():
        with torch.no_grad():
            for i in range(0, len(x), buffer):
                model(padded[:, i : i + past + buffer], pad_start=False)
    return run


def run(smoke: bool) -> str:
    import torch

    torch.set_num_threads(1)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    samples = 2048 if smoke else RATE
    x = audio(samples)
    folder = tempfile.mkdtemp()
    if smoke:
        amp, model = NAM.preset("standard"), None
    else:
        model, data = nam_standard()
        path = os.path.join(folder, "standard.nam")
        with open(path, "w") as file:
            json.dump(data, file)
        amp = wavedil.load(path)
        with torch.no_grad():
            reference = model(torch.from_numpy(x)).numpy()
        check_close(amp(x), reference, "wavedil vs NAM, offline")
        check_close(wavedil.run_stream(amp, x, [64]), reference, "wavedil stream vs NAM")
    past = amp.receptive_field - 1
    repeats = 1 if smoke else 5
    rows, offline = [], {}
    seconds = samples / RATE
    if model is not None:
        def nam_offline():
            with torch.no_grad():
                model(torch.from_numpy(x))
        times = time_interleaved({"nam": nam_offline, "wavedil": lambda: amp(x)},
                                 repeats=repeats)
        offline = {k: v / seconds for k, v in times.items()}
    for buffer in BUFFERS:
        # short buffers: a slice of the second (the per-call cost is what is measured)
        n = min(samples, max(buffer * 8, {1: 2400, 16: 9600}.get(buffer, samples)))
        if smoke:
            n = min(n, 512)
        part = x[: n - n % buffer]
        onnx_path = export_onnx(amp, os.path.join(folder, f"s{buffer}.onnx"),
                                           chunk=buffer)
        candidates = {"wavedil": streamer(amp, part, buffer),
                      "onnxruntime": onnx_streamer(onnx_path, part, buffer)}
        if model is not None:
            few = part[: max(buffer, min(len(part), 64 * buffer, 4800))]
            candidates["nam"] = nam_per_buffer(model, few, buffer, past)
        times = time_interleaved(candidates, repeats=repeats)
        rtf = {k: v / (len(part) / RATE) for k, v in times.items()}
        if "nam" in times:
            rtf["nam"] = times["nam"] / (len(few) / RATE)
        rows.append([buffer, f"{rtf['wavedil']:.3f}", f"{rtf['onnxruntime']:.3f}",
                     f"{rtf['nam']:.2f}" if "nam" in rtf else "-",
                     f"{rtf['nam'] / rtf['wavedil']:.0f}x" if "nam" in rtf else "-",
                     TARGETS.get(buffer, "")])
    lines = ["## Neural Amp Modeler (standard preset)", "",
             f"NAM's standard WaveNet (13,802 weights, receptive field {amp.receptive_field}),"
             f" {samples} samples at 48 kHz, float32; one thread for numpy's BLAS, torch and "
             "onnxruntime alike. RTF = time / audio duration; NAM per buffer: its model on the"
             " buffer and the receptive field before it.", ""]
    if offline:
        lines += [f"Offline (the whole second): NAM's PyTorch model RTF "
                  f"{offline['nam']:.3f}, wavedil RTF {offline['wavedil']:.3f}.", ""]
    lines.append(md_table(["buffer", "wavedil stream RTF", "onnxruntime step RTF",
                           "NAM recomputed per buffer RTF", "wavedil speed-up", "target"],
                          rows))
    if smoke:
        lines += ["", "(smoke: NAM's own model not timed; random weights of the preset.)"]
    return "\n".join(lines)
