"""The streaming contract (DESIGN.md) as one check, applied to any streamable operator.

``check_streaming_contract(op, x, sizes)`` uses the public API only (``op(x)``,
``op.stream(batch=)``, ``process``, ``flush``, ``reset``, ``state_dict``,
``load_state_dict``, ``latency``) and checks, for the input ``x`` cut in chunks of ``sizes``
(cycled):

- ``chunking``: the chunks' outputs and the flush, concatenated, equal ``op(x)`` (contract
  tolerance of the dtype); ``process`` returns exactly ``len(chunk)`` samples once
  ``latency`` samples were seen (fewer before), ``flush`` the last ``latency``; every output
  has the input's dtype;
- ``reset``: after ``reset()`` the same chunks give the same output, bit for bit;
- ``state`` / ``state_at_end``: a state saved half way / after the last chunk
  (``state_dict``, ``np.savez``, ``np.load`` without pickles) and loaded into a fresh stream
  continues bit for bit (to the flush);
- ``reject_channels`` / ``reject_dtype`` / ``reject_ndim`` / ``reject_nonfinite``: a chunk
  of the wrong channel count, dtype (after the first chunk) or number of dimensions, or
  with a NaN sample (the default non-finite policy, ``wavedil.nonfinite``), raises
  ValueError/TypeError and leaves the state unchanged (the continuation is bit for bit the
  clean run).

``check_unused_flush`` and ``check_states_in_fresh_process`` cover the flush of a stream
that never saw a chunk and a state continued in another Python process.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_close

CHECKS = ("chunking", "reset", "state", "state_at_end", "reject_channels", "reject_dtype",
          "reject_ndim", "reject_nonfinite")
TESTS_DIR = Path(__file__).resolve().parent


def split(x: np.ndarray, sizes) -> list[np.ndarray]:
    """``x`` cut along its last axis in chunks of ``sizes`` (cycled; zero sizes kept as empty
    chunks, and a size of 1 added if all are zero)."""
    sizes = [int(s) for s in sizes]
    if not any(sizes):
        sizes = sizes + [1]
    chunks, start, i = [], 0, 0
    while start < x.shape[-1]:
        size = sizes[i % len(sizes)]
        chunks.append(x[..., start : start + size])
        start += size
        i += 1
    return chunks or [x[..., :0]]


def feed(stream, chunks, seen: int = 0, dtype=None) -> list[np.ndarray]:
    """``process`` every chunk, checking each output's length against the latency and its
    dtype; ``seen``: samples fed to ``stream`` before these chunks."""
    latency = stream.latency
    assert isinstance(latency, (int, np.integer)) and latency >= 0, latency
    outs = []
    for chunk in chunks:
        m = chunk.shape[-1]
        y = stream.process(chunk)
        want = max(0, seen + m - latency) - max(0, seen - latency)
        assert isinstance(y, np.ndarray), type(y)
        assert y.shape[-1] == want, (f"process gave {y.shape[-1]} samples for a chunk of {m} "
                                     f"after {seen} (latency {latency}), expected {want}")
        assert dtype is None or y.dtype == dtype, (y.dtype, dtype)
        outs.append(y)
        seen += m
    return outs


def finish(stream, outs, total: int, dtype=None) -> np.ndarray:
    """``flush`` (checking it gives the last ``min(latency, total)`` samples), concatenate."""
    tail = stream.flush()
    assert isinstance(tail, np.ndarray), type(tail)
    want = min(stream.latency, total)
    assert tail.shape[-1] == want, f"flush gave {tail.shape[-1]} samples, expected {want}"
    if total:  # an unused stream's flush has no dtype to keep (see check_unused_flush)
        assert dtype is None or tail.dtype == dtype, (tail.dtype, dtype)
    return np.concatenate(outs + [tail], axis=-1)


def roundtrip(state: dict) -> dict:
    """``state`` through ``np.savez`` and ``np.load(allow_pickle=False)``, as a file would."""
    for key, value in state.items():
        assert isinstance(value, np.ndarray) and value.dtype != object, (key, type(value))
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as loaded:
        return {key: loaded[key] for key in loaded.files}


def bad_chunks(chunk: np.ndarray) -> dict[str, np.ndarray]:
    """Chunks every stream fed ``chunk``'s layout must refuse, by what is wrong with them."""
    if chunk.shape[-1] == 0:
        chunk = np.ones(chunk.shape[:-1] + (3,), chunk.dtype)
    if chunk.ndim == 1:
        channels = np.stack([chunk, chunk])
    else:
        channels = np.concatenate([chunk, chunk[..., -1:, :]], axis=-2)
    other = np.float32 if chunk.dtype == np.float64 else np.float64
    nonfinite = chunk.copy()  # a NaN in the first channel (the audio of a conditioned chunk)
    nonfinite[(0,) * (chunk.ndim - 1) + (chunk.shape[-1] // 2,)] = np.nan
    return {"reject_channels": channels, "reject_dtype": chunk.astype(other),
            "reject_ndim": chunk[None], "reject_nonfinite": nonfinite}


def check_streaming_contract(op, x, sizes, *, batch=None, checks=CHECKS):
    """Check the streaming contract of ``op`` on ``x`` in chunks of ``sizes`` (see the module
    docstring); ``batch`` is passed to ``op.stream``; ``checks`` selects the parts."""
    unknown = set(checks) - set(CHECKS)
    assert not unknown, f"unknown checks {unknown}"
    x = np.asarray(x)
    dtype, total = x.dtype, x.shape[-1]
    chunks = split(x, sizes)
    offline = op(x)
    assert offline.dtype == dtype, (offline.dtype, dtype)
    stream = op.stream(batch=batch)
    clean = finish(stream, feed(stream, chunks, dtype=dtype), total, dtype)
    if "chunking" in checks:
        assert clean.shape == offline.shape, (clean.shape, offline.shape)
        assert_close(clean, offline, dtype)
    if "reset" in checks:
        stream.reset()
        again = finish(stream, feed(stream, chunks, dtype=dtype), total, dtype)
        np.testing.assert_array_equal(again, clean, "after reset() the stream is not as new")
    half = len(chunks) // 2
    head, rest = chunks[:half], chunks[half:]
    seen = sum(c.shape[-1] for c in head)
    if "state" in checks:
        first = op.stream(batch=batch)
        outs = feed(first, head, dtype=dtype)
        second = op.stream(batch=batch)
        second.load_state_dict(roundtrip(first.state_dict()))
        outs += feed(second, rest, seen, dtype)
        np.testing.assert_array_equal(finish(second, outs, total, dtype), clean,
                                      "a loaded state does not continue bit for bit")
    if "state_at_end" in checks:  # saved after the last chunk: the flush continues
        last = op.stream(batch=batch)
        outs = feed(last, chunks, dtype=dtype)
        fresh = op.stream(batch=batch)
        fresh.load_state_dict(roundtrip(last.state_dict()))
        np.testing.assert_array_equal(finish(fresh, outs, total, dtype), clean,
                                      "a state loaded after the last chunk does not flush "
                                      "bit for bit")
    for check in CHECKS[4:]:
        if check not in checks:
            continue
        # the first chunk fixes the layout and dtype; a bad chunk then comes before the rest
        ahead = max(half, 1) if len(chunks) > 1 else 1
        stream = op.stream(batch=batch)
        outs = feed(stream, chunks[:ahead], dtype=dtype)
        bad = bad_chunks(chunks[0] if chunks[0].shape[-1] else x[..., :5])[check]
        with pytest.raises((ValueError, TypeError)):
            stream.process(bad)
        outs += feed(stream, chunks[ahead:], sum(c.shape[-1] for c in chunks[:ahead]), dtype)
        np.testing.assert_array_equal(finish(stream, outs, total, dtype), clean,
                                      f"a rejected chunk ({check}) changed the state")


def check_unused_flush(op, batch=None, expected_shape=None):
    """The flush of a stream that saw no chunk: an array of a float dtype with 0 samples
    (of ``expected_shape`` when given)."""
    tail = op.stream(batch=batch).flush()
    assert isinstance(tail, np.ndarray), type(tail)
    assert tail.dtype.kind == "f", tail.dtype
    assert tail.shape[-1] == 0, tail.shape
    if expected_shape is not None:
        assert tail.shape == tuple(expected_shape), (tail.shape, expected_shape)


_FRESH_PROCESS = """
import json, sys, traceback
import numpy as np
sys.path.insert(0, sys.argv[1])
from contract import feed, finish, split
from registry import build
for job in json.loads(sys.argv[2]):
    try:
        op = build(job["entry"])
        x = np.load(job["input"], allow_pickle=False)
        stream = op.stream(batch=job["batch"])
        with np.load(job["state"], allow_pickle=False) as state:
            stream.load_state_dict({key: state[key] for key in state.files})
        outs = feed(stream, split(x, job["sizes"])[job["half"]:], job["seen"], x.dtype)
        np.save(job["output"], finish(stream, outs, x.shape[-1], x.dtype))
    except Exception:
        print(job["entry"], traceback.format_exc(), file=sys.stderr)
"""


def check_states_in_fresh_process(cases, tmp_path):
    """For each ``(entry, x, sizes, batch)`` of ``cases``: a state saved to a file half way
    through ``x`` and loaded in a new Python process (into a fresh stream of
    ``registry.build(entry)``) continues bit for bit. One process serves every case."""
    from registry import build

    jobs, expected = [], {}
    for entry, x, sizes, batch in cases:
        op, x, folder = build(entry), np.asarray(x), tmp_path / entry
        folder.mkdir()
        chunks = split(x, sizes)
        half = len(chunks) // 2
        first = op.stream(batch=batch)
        outs = feed(first, chunks[:half], dtype=x.dtype)
        np.savez(folder / "state.npz", **first.state_dict())
        np.save(folder / "input.npy", x)
        seen = sum(c.shape[-1] for c in chunks[:half])
        here = finish(first, outs + feed(first, chunks[half:], seen, x.dtype), x.shape[-1],
                      x.dtype)
        assert_close(here, op(x), x.dtype)
        expected[entry] = (outs, here)
        jobs.append({"entry": entry, "input": str(folder / "input.npy"),
                     "state": str(folder / "state.npz"), "output": str(folder / "out.npy"),
                     "sizes": [int(s) for s in sizes], "half": half, "seen": seen,
                     "batch": batch})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in [str(TESTS_DIR.parent), os.environ.get("PYTHONPATH", "")] if p))
    done = subprocess.run([sys.executable, "-c", _FRESH_PROCESS, str(TESTS_DIR),
                           json.dumps(jobs)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    failures = []
    for job in jobs:
        outs, here = expected[job["entry"]]
        try:
            tail = np.load(job["output"], allow_pickle=False)
        except FileNotFoundError:
            failures.append(f"{job['entry']}: no output")
            continue
        there = np.concatenate(outs + [tail], axis=-1)
        if there.dtype != here.dtype or not np.array_equal(there, here):
            failures.append(f"{job['entry']}: the state did not continue bit for bit")
    assert not failures, "\n".join(failures) + "\n" + done.stderr
