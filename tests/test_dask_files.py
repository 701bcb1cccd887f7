"""process_files and ``wavedil batch``: a folder of files on Dask, on the threaded scheduler
and on a real LocalCluster of two worker processes (one killed mid-run).

The oracle for every output is the operator called in memory on the file's float32 audio
(``(channels, 1, T)``), written through the same encoding (soundfile), read back.
"""

import functools
import io
import json
import os
import signal
import sys

import cloudpickle
import numpy as np
import pytest
import soundfile as sf

import wavedil
from wavedil.cli import main
from wavedil.dask import FileTable, process_files

# the operators below travel to the worker processes by value (this module is not importable)
cloudpickle.register_pickle_by_value(sys.modules[__name__])

RATE = 8000
LOSSLESS = {"PCM_16": 2.0**-15, "PCM_24": 2.0**-23, "FLOAT": 0.0, "DOUBLE": 0.0}


class DiesOnce:
    """A conv layer whose worker process dies (SIGKILL) the first time it sees ``frames``
    samples, after leaving behind the temporary output a killed writer would leave."""

    def __init__(self, layer, frames, marker, leftover):
        self.layer, self.frames, self.marker, self.leftover = layer, frames, marker, leftover

    @property
    def spec(self):
        return self.layer.spec

    def __call__(self, x):
        if x.shape[-1] == self.frames and not os.path.exists(self.marker):
            with open(self.marker, "w") as f:
                f.write(str(os.getpid()))
            with open(self.leftover, "w") as f:
                f.write("half an output")
            os.kill(os.getpid(), signal.SIGKILL)
        return self.layer(x)


def write_inputs(folder, rng, long_frames=0):
    """A dozen files: several formats and channel counts, one corrupt, one empty (no
    bytes), one without frames, and optionally a long one. Returns {name: subtype}."""
    folder.mkdir(parents=True, exist_ok=True)
    specs = [("a.wav", "PCM_16", 1, 3000), ("b.wav", "FLOAT", 2, 2500),
             ("c.flac", "PCM_24", 1, 4100), ("d.aiff", "PCM_16", 2, 1999),
             ("e.wav", "PCM_24", 1, 7001), ("f.ogg", "VORBIS", 1, 5000),
             ("g.wav", "DOUBLE", 1, 3333), ("h.flac", "PCM_16", 2, 2048),
             ("i.wav", "PCM_16", 1, 1)]
    if long_frames:
        specs.append(("long.wav", "FLOAT", 2, long_frames))
    subtypes = {}
    for name, subtype, channels, frames in specs:
        audio = 0.3 * rng.standard_normal((frames, channels))
        sf.write(folder / name, audio, RATE, subtype=subtype)
        subtypes[name] = subtype
    (folder / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(20))
    (folder / "empty.wav").write_bytes(b"")
    sf.write(folder / "silent.wav", np.zeros((0, 1)), RATE, subtype="PCM_16")
    subtypes["silent.wav"] = "PCM_16"
    return subtypes


def expected(op, path, subtype):
    """The in-memory result written as ``subtype`` and read back (float32, (T, C))."""
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    if not len(audio):
        return audio
    from wavedil.dask.plans import plan_for

    y = plan_for(op, audio.shape[0]).whole(audio.T[:, None, :])[:, 0, :].T
    if subtype not in LOSSLESS:
        return y
    memory = io.BytesIO()
    sf.write(memory, np.clip(y, -1, 1) if "PCM" in subtype else y, rate, subtype=subtype,
             format=sf.info(path).format)
    memory.seek(0)
    return sf.read(memory, dtype="float32", always_2d=True)[0]


def check_outputs(table, op, inputs, out, subtypes):
    rows = {os.path.basename(r.path): r for r in table}
    assert rows["corrupt.wav"].status == rows["empty.wav"].status == "failed"
    assert "corrupt.wav: not an audio file" in rows["corrupt.wav"].error
    assert "empty.wav: not an audio file" in rows["empty.wav"].error
    assert rows["silent.wav"].status == "done" and rows["silent.wav"].rtf is None
    for name, subtype in subtypes.items():
        row = rows[name]
        assert row.status == "done", row
        written, rate = sf.read(out / name, dtype="float32", always_2d=True)
        assert rate == RATE and sf.info(out / name).subtype == subtype
        want = expected(op, inputs / name, subtype)
        assert written.shape == want.shape, name
        if subtype in LOSSLESS:
            np.testing.assert_allclose(written, want, rtol=0, atol=1e-6, err_msg=name)
        if row.frames:
            assert row.duration == pytest.approx(row.frames / RATE)
            assert row.rtf == pytest.approx(row.elapsed / row.duration)
    assert sorted(os.listdir(out)) == sorted(subtypes)  # no leftovers, no failed outputs


def test_process_files_on_the_threaded_scheduler(tmp_path, rng):
    inputs, out = tmp_path / "in", tmp_path / "out"
    subtypes = write_inputs(inputs, rng, long_frames=30000)
    op = wavedil.Denoiser("db4", 3, window=2000, hop=256)
    paths = sorted(inputs.iterdir())
    table = process_files(paths, op, out, segment=8000)
    assert isinstance(table, FileTable) and len(table) == len(paths)
    assert [r.path for r in table] == [str(p) for p in paths]
    check_outputs(table, op, inputs, out, subtypes)
    assert {r.segments for r in table if r.status == "done"} == {1, 4}  # long.wav: 4 tasks
    assert "long.wav" in str(table) and "2 failed" in str(table)
    assert json.loads(table.to_json())[0]["path"] == str(paths[0])
    again = process_files(paths, op, out, segment=8000)  # idempotent
    assert {r.status for r in again} == {"skipped", "failed"}
    assert [r.path for r in again.failed] == [str(inputs / "corrupt.wav"),
                                              str(inputs / "empty.wav")]


def test_a_segmented_offline_denoise_equals_the_whole_file(tmp_path, rng):
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    t = np.arange(40000)
    audio = 0.5 * np.sin(2 * np.pi * 440 * t / RATE) + 0.1 * rng.standard_normal(t.size)
    sf.write(inputs / "tone.wav", np.stack([audio, audio[::-1]], 1), RATE, subtype="FLOAT")
    op = functools.partial(wavedil.denoise, wavelet="sym4", levels=6, threshold="sure")
    (row,) = process_files([inputs / "tone.wav"], op, out, segment=9000)
    assert row.status == "done" and row.segments == 5
    written, _ = sf.read(out / "tone.wav", dtype="float32", always_2d=True)
    np.testing.assert_allclose(written, expected(op, inputs / "tone.wav", "FLOAT"),
                               rtol=0, atol=1e-6)


def test_stale_leftovers_go_and_name_clashes_are_reported(tmp_path, rng):
    inputs, out = tmp_path / "in", tmp_path / "out"
    (inputs / "x").mkdir(parents=True)
    sf.write(inputs / "a.wav", 0.1 * rng.standard_normal(500), RATE)
    sf.write(inputs / "x" / "a.wav", 0.1 * rng.standard_normal(500), RATE)
    out.mkdir()
    (out / ".a.wav.k3j2.part").write_text("left by a killed worker")
    (out / ".a.wav.seg00001.npy").write_text("left by a killed run")
    table = process_files([inputs / "a.wav", inputs / "x" / "a.wav"], wavedil.Denoiser(), out)
    assert [r.status for r in table] == ["done", "failed"]
    assert "is also the output of" in table[1].error
    assert sorted(os.listdir(out)) == ["a.wav"]


def test_process_files_refuses_an_operator_that_changes_the_layout(tmp_path, rng):
    sf.write(tmp_path / "a.wav", 0.1 * rng.standard_normal(500), RATE)
    table = process_files([tmp_path / "a.wav"], wavedil.AtrousTransform("haar", 2),
                          tmp_path / "out")
    assert table[0].status == "failed"
    assert "must map (channels, 1, T) = (1, 1, 500) to itself, got (3, 1, 1, 500)" in \
        table[0].error


@pytest.fixture(scope="module")
def client():
    """A real cluster: two worker processes on loopback, one thread each."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


@pytest.mark.slow
def test_a_local_cluster_processes_files_and_survives_a_killed_worker(client, tmp_path, rng):
    inputs, out = tmp_path / "in", tmp_path / "out"
    subtypes = write_inputs(inputs, rng, long_frames=30000)
    layer = wavedil.DilatedConv1d(rng.standard_normal((1, 1, 3)), dilation=50,
                                  alignment="centered")
    out.mkdir()
    op = DiesOnce(layer, 7001, str(tmp_path / "killed"), str(out / ".e.wav.xyz.part"))
    pids = set(client.run(os.getpid).values())
    table = process_files(sorted(inputs.iterdir()), op, out, client, segment=8000)
    killed = int((tmp_path / "killed").read_text())
    assert killed in pids and killed not in set(client.run(os.getpid).values())
    check_outputs(table, layer, inputs, out, subtypes)  # e.wav retried, nothing partial left
    assert [r.segments for r in table if r.path.endswith("long.wav")] == [4]
    again = process_files(sorted(inputs.iterdir()), op, out, client, segment=8000)
    assert {r.status for r in again} == {"skipped", "failed"}


@pytest.mark.slow
def test_the_offline_denoiser_on_the_cluster(client, tmp_path, rng):
    inputs, out = tmp_path / "in", tmp_path / "out"
    subtypes = write_inputs(inputs, rng, long_frames=25000)
    op = functools.partial(wavedil.denoise, wavelet="db4", levels=5)
    table = process_files(sorted(inputs.iterdir()), op, out, client, segment=7000)
    check_outputs(table, op, inputs, out, subtypes)


@pytest.mark.slow
def test_batch_command_on_a_scheduler_address(client, tmp_path, rng, capsys):
    inputs, out = tmp_path / "in", tmp_path / "out"
    write_inputs(inputs, rng)
    address = client.scheduler.address
    status = main(["batch", str(inputs), str(out), "--scheduler", address, "--pattern", "*.wav",
                   "--json", "--levels", "3"])
    assert status == 1  # corrupt.wav and empty.wav
    rows = json.loads(capsys.readouterr().out)
    assert {os.path.basename(r["path"]): r["status"] for r in rows} == {
        "a.wav": "done", "b.wav": "done", "e.wav": "done", "g.wav": "done", "i.wav": "done",
        "silent.wav": "done", "corrupt.wav": "failed", "empty.wav": "failed"}
    op = wavedil.Denoiser("sym8", 3)
    written, _ = sf.read(out / "b.wav", dtype="float32", always_2d=True)
    np.testing.assert_allclose(written, expected(op, inputs / "b.wav", "FLOAT"), atol=1e-6)


def test_batch_command_locally(tmp_path, rng, capsys):
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    for name in ("x.wav", "y.wav"):
        sf.write(inputs / name, 0.2 * rng.standard_normal(4000), RATE, subtype="FLOAT")
    assert main(["batch", str(inputs), str(out), "--offline", "--levels", "4"]) == 0
    text = capsys.readouterr().out
    assert "x.wav" in text and "2 files: 2 done, 0 skipped, 0 failed" in text
    written, _ = sf.read(out / "y.wav", dtype="float32", always_2d=True)
    op = functools.partial(wavedil.denoise, levels=4)
    np.testing.assert_allclose(written, expected(op, inputs / "y.wav", "FLOAT"), atol=1e-6)
    assert main(["batch", str(inputs), str(out)]) == 0
    assert "2 skipped" in capsys.readouterr().out
    assert main(["batch", str(tmp_path / "nope"), str(out)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["batch", str(inputs), str(out), "--pattern", "*.flac"]) == 1
    assert "no file matches '*.flac'" in capsys.readouterr().err


def test_the_example_runs_and_finds_the_chunked_results_equal(capsys):
    import runpy
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "examples" / "dask_long_file.py"
    errors = runpy.run_path(str(example))["main"](["--seconds", "4", "--chunk", "16384"])
    assert set(errors) == {"offline denoise", "streaming denoiser"}
    assert max(errors.values()) <= 1e-5
    out = capsys.readouterr().out
    assert out.count("EQUAL (float32)") == 2 and "4 files: 4 done" in out



def mapped_for_a_block(megabytes: int = 16) -> int:
    """Bytes glibc's malloc holds in mmapped regions while a ``megabytes`` numpy array
    lives, above what it held before (``mallinfo2().hblkhd``): about the array's size when
    the block is mapped afresh, 0 when it comes from the heap."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    before = libc.mallinfo2().hblkhd
    block = np.ones(megabytes << 17)
    during = libc.mallinfo2().hblkhd
    del block
    return during - before


@pytest.mark.slow
def test_tuned_workers_and_their_replacements_take_large_blocks_from_the_heap():
    from distributed import Client, LocalCluster

    from wavedil.dask import tune_workers

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        (environ,) = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()
        (untuned,) = client.run(mapped_for_a_block).values()
        (settings,) = tune_workers(client).values()
        client.run(mapped_for_a_block)  # the heap grows to hold it once
        (tuned,) = client.run(mapped_for_a_block).values()
        (blas,) = client.run(lambda: __import__("threadpoolctl").threadpool_info()).values()
        before = set(client.run(os.getpid).values())
        client.restart()  # a new worker process: the plugin tunes it as it joins
        assert not before & set(client.run(os.getpid).values())
        client.run(mapped_for_a_block)
        (replaced,) = client.run(mapped_for_a_block).values()
    assert environ is not None  # Dask's nanny sets it: the case the tuning undoes
    assert settings == {"blas": True, "malloc": True}
    assert untuned >= 16 << 20
    assert tuned == 0 and replaced == 0
    assert {pool["num_threads"] for pool in blas if pool["user_api"] == "blas"} == {1}
