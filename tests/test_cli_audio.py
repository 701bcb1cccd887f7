"""End to end: encodings, clipping, pipes both ways, raw PCM, multichannel, --reference,
analyze and bench, each through the command in a subprocess."""

import io
import json
import struct

import numpy as np
import pytest
import soundfile as sf
from cli_run import IDENTITY, names, noise, one_line_error, wavedil, write_wav

from wavedil.models.stack import TCN

pytestmark = pytest.mark.slow


@pytest.fixture
def work(tmp_path):
    write_wav(tmp_path / "in16.wav", noise(2, 3000))
    write_wav(tmp_path / "inf.wav", noise(2, 3000), subtype="FLOAT")
    TCN(1, [4, 4], kernel_size=3, out_channels=1, seed=1).save(tmp_path / "m.npz")
    return tmp_path


def _offline(model_path, audio):
    from wavedil.models import load

    return load(model_path)(audio[:, None, :].astype(np.float32))[:, 0, :]


@pytest.mark.parametrize("source, out, options, subtype, tolerance", [
    ("in16.wav", "o.wav", [], "PCM_16", 2 ** -14),
    ("in16.wav", "o.wav", ["--subtype", "PCM_24"], "PCM_24", 2 ** -22),
    ("in16.wav", "o.wav", ["--subtype", "FLOAT"], "FLOAT", 1e-5),
    ("inf.wav", "o.flac", [], "PCM_24", 2 ** -22),     # FLOAT does not fit FLAC: 24-bit
    ("in16.wav", "o.flac", [], "PCM_16", 2 ** -14),
    ("in16.wav", "o.ogg", [], "VORBIS", 0.2),           # lossy
    ("in16.wav", "o.au", ["--subtype", "s24le"], "PCM_24", 2 ** -22),
    ("in16.wav", "o.bin", ["--format", "WAV"], "PCM_16", 2 ** -14),
])
def test_encodings(work, source, out, options, subtype, tolerance):
    r = wavedil("filter", work / "m.npz", work / source, work / out, *options)
    assert r.returncode == 0, r.err
    assert sf.info(str(work / out)).subtype == subtype and f", {subtype};" in r.out
    audio, _ = sf.read(work / source, dtype="float32", always_2d=True)
    written, _ = sf.read(work / out, dtype="float32", always_2d=True)
    expected = _offline(work / "m.npz", audio.T).T
    error = np.sqrt(np.mean((written - expected) ** 2)) if subtype == "VORBIS" \
        else np.max(np.abs(written - expected))
    assert written.shape == audio.shape and error <= tolerance


def test_mp3_written_or_clearly_refused(work):
    """MP3 where the bundled libsndfile writes it (decided here, never skipped)."""
    writes = "MP3" in sf.available_formats() and sf.check_format("MP3", "MPEG_LAYER_III")
    r = wavedil("filter", work / "m.npz", work / "in16.wav", work / "o.mp3")
    if writes:
        assert r.returncode == 0, r.err
        assert sf.info(str(work / "o.mp3")).format == "MP3"
    else:
        one_line_error(r, 1, "o.mp3")
        assert not (work / "o.mp3").exists()


def test_clipping_is_counted_refused_or_avoided(work):
    audio = noise(1, 2000, scale=0.1)
    audio[0, [100, 200, 300]] = [1.5, -2.0, 1.25]
    write_wav(work / "hot.wav", audio, subtype="FLOAT")
    r = wavedil(*IDENTITY, work / "hot.wav", work / "o16.wav", "--subtype", "PCM_16")
    assert r.returncode == 0, r.err
    assert "clipped 3 sample(s) beyond full scale writing PCM_16" in r.out
    written, _ = sf.read(work / "o16.wav", dtype="int16")
    assert list(written[[100, 200, 300]]) == [32767, -32768, 32767]
    r = wavedil(*IDENTITY, work / "hot.wav", work / "no.wav", "--subtype", "PCM_16",
                "--no-clip")
    one_line_error(r, 1, "no.wav", "beyond full scale", "peak 2", "--subtype FLOAT")
    assert "no.wav" not in names(work)
    r = wavedil(*IDENTITY, work / "hot.wav", work / "of.wav")  # the input's FLOAT
    assert r.returncode == 0 and "clipped" not in r.out
    np.testing.assert_allclose(sf.read(work / "of.wav", dtype="float32")[0], audio[0],
                               atol=1e-6)


def _data(wav_bytes):
    """The data chunk of a WAV held in memory, and its declared size."""
    at = wav_bytes.index(b"data")
    return wav_bytes[at + 8:], struct.unpack("<I", wav_bytes[at + 4:at + 8])[0]


def test_wav_pipes_both_ways_equal_the_file_run(work):
    model, source = work / "m.npz", work / "in16.wav"
    assert wavedil("filter", model, source, work / "file.wav", "--block", "100").returncode == 0
    reference = (work / "file.wav").read_bytes()
    ref_data, _ = _data(reference)
    # file -> stdout: a WAV with exact sizes; the summary on stderr
    r = wavedil("filter", model, source, "-", "--block", "100")
    assert r.returncode == 0 and "real-time factor" in r.err
    data, size = _data(r.stdout)
    assert data == ref_data and size == len(ref_data)
    assert sf.info(io.BytesIO(r.stdout)).frames == 3000
    # stdin -> file
    r = wavedil("filter", model, "-", work / "piped.wav", "--block", "100",
                stdin=source.read_bytes())
    assert r.returncode == 0, r.err
    assert _data((work / "piped.wav").read_bytes())[0] == ref_data
    # stdin -> stdout: the length is unknown, so the sizes say 0xFFFFFFFF
    r = wavedil("filter", model, "-", "-", "--block", "100", stdin=source.read_bytes())
    data, size = _data(r.stdout)
    assert r.returncode == 0 and data == ref_data and size == 0xFFFFFFFF


def test_raw_pcm_through_pipes(work):
    audio = noise(2, 3000)
    pcm = np.clip(np.rint(audio.T * 32768), -32768, 32767).astype("<i2").tobytes()
    raw = ["--rate", "8000", "--channels", "2", "--encoding", "s16le"]
    r = wavedil(*IDENTITY, "-", "-", *raw, stdin=pcm)
    assert r.returncode == 0, r.err
    write_wav(work / "pcm.wav", np.frombuffer(pcm, "<i2").reshape(-1, 2).T / 32768)
    assert wavedil(*IDENTITY, work / "pcm.wav", work / "file.wav").returncode == 0
    assert r.stdout == _data((work / "file.wav").read_bytes())[0]  # as libsndfile writes it
    steps = np.frombuffer(r.stdout, "<i2").astype(int) - np.frombuffer(pcm, "<i2")
    assert np.abs(steps).max() <= 1  # the identity's float error may cross a step
    r = wavedil(*IDENTITY, "-", work / "o.wav", *raw, "--subtype", "FLOAT", stdin=pcm)
    written, rate = sf.read(work / "o.wav", dtype="float32", always_2d=True)
    assert rate == 8000 and written.shape == (3000, 2)
    np.testing.assert_allclose(written, np.frombuffer(pcm, "<i2").reshape(-1, 2) / 32768,
                               atol=1e-6)
    for encoding, dtype, scale in (("f32le", "<f4", 1), ("s24le", None, 2 ** 23),
                                   ("u8", "u1", 128)):
        r = wavedil(*IDENTITY, work / "o.wav", "-", "--format", "RAW", "--subtype", encoding)
        assert r.returncode == 0, r.err
        if dtype is None:
            b = np.frombuffer(r.stdout, np.uint8).reshape(-1, 3)
            values = (b[:, 0].astype(np.int32) | b[:, 1].astype(np.int32) << 8
                      | b[:, 2].astype(np.int8).astype(np.int32) << 16) / scale
        else:
            values = np.frombuffer(r.stdout, dtype).astype(np.float64)
            values = (values - 128) / scale if encoding == "u8" else values
        np.testing.assert_allclose(values.reshape(-1, 2), written, atol=1.0 / scale + 1e-6)
    one_line_error(wavedil(*IDENTITY, "-", "-", *raw, stdin=pcm[:-1]), 1,
                   "stdin", "partial frame (3 of 4 bytes)")


def test_pipe_refusals(work):
    sf.write(work / "in.flac", noise(1, 1000)[0], 8000)
    one_line_error(wavedil(*IDENTITY, "-", work / "o.wav", stdin=(work / "in.flac").read_bytes()),
                   1, "stdin", "not an audio file", "raw PCM with --rate")
    one_line_error(wavedil(*IDENTITY, work / "in16.wav", "-", "--format", "FLAC"), 1,
                   "stdout", "cannot be written to a pipe")
    one_line_error(wavedil(*IDENTITY, "-", "o.wav", "--check", stdin=b""), 2, "--check")
    import os
    import pty

    master, slave = pty.openpty()
    for args, needle in (([work / "in16.wav", "-"], "audio to a terminal"),
                         (["-", work / "o.wav"], "audio from a terminal")):
        r = wavedil(*IDENTITY, *args, stdin=None, tty=slave)
        one_line_error(r, 2, needle)
    os.close(master)
    os.close(slave)
    assert "o.wav" not in names(work)


def test_multichannel_equals_mono_runs(work):
    audio = noise(6, 5000, seed=3)
    write_wav(work / "six.wav", audio, subtype="FLOAT")
    r = wavedil("filter", work / "m.npz", work / "six.wav", work / "o.wav", "--block", "333")
    assert r.returncode == 0 and "5000 samples x 6 channel(s)" in r.out
    written, _ = sf.read(work / "o.wav", dtype="float32", always_2d=True)
    np.testing.assert_allclose(written.T, _offline(work / "m.npz", audio), atol=1e-5)


def test_reference_prints_snr_before_and_after(work):
    clean = noise(1, 8000, scale=0.3, seed=5)
    noisy = clean + noise(1, 8000, scale=0.05, seed=6)
    write_wav(work / "clean.wav", clean, subtype="FLOAT")
    write_wav(work / "noisy.wav", noisy, subtype="FLOAT")
    r = wavedil(*IDENTITY, work / "noisy.wav", work / "o.wav", "--reference",
                work / "clean.wav")
    before = 10 * np.log10(np.sum(clean ** 2) / np.sum((noisy - clean) ** 2))
    assert r.returncode == 0, r.err
    assert f"input {before:.2f} dB, output {before:.2f} dB" in r.out


def test_analyze_table_json_and_plot(work):
    r = wavedil("analyze", work / "in16.wav", "--levels", "4", "--json")
    assert r.returncode == 0, r.err
    report = json.loads(r.out)
    assert [row["level"] for row in report["rows"]] == ["w1", "w2", "w3", "w4", "c4"]
    assert abs(sum(row["share"] for row in report["rows"]) - 1) < 1e-9
    assert report["rows"][0]["band_hz"] == [2000.0, 4000.0]
    r = wavedil("analyze", work / "in16.wav", "--levels", "3", "--plot", work / "a.png")
    assert r.returncode == 0 and "w3" in r.out and "share" in r.out
    assert (work / "a.png").read_bytes()[:4] == b"\x89PNG"
    r = wavedil("analyze", work / "in16.wav", "--levels", "3", "--plot", work / "c.png",
                "--cwt")
    assert r.returncode == 0, r.err
    assert (work / "c.png").read_bytes()[:4] == b"\x89PNG"
    one_line_error(wavedil("analyze", work / "in16.wav", "--cwt"), 2, "give --plot PNG")
    one_line_error(wavedil("analyze", work / "missing.wav"), 1, "missing.wav")
    write_wav(work / "one.wav", np.zeros((1, 1)))
    one_line_error(wavedil("analyze", work / "one.wav"), 1, "one.wav: 1 sample(s) is too short")


def test_bench_json_covers_the_grid(work):
    r = wavedil("bench", work / "m.npz", "--rates", "16000,48000", "--blocks", "16,256",
                "--seconds", "0.05", "--json")
    assert r.returncode == 0, r.err
    cells = json.loads(r.out)["cells"]
    assert [(c["rate"], c["block"]) for c in cells] == [(16000, 16), (16000, 256),
                                                       (48000, 16), (48000, 256)]
    assert all(c["rtf"] > 0 and c["latency_samples"] == 0 for c in cells)
    r = wavedil("bench", "denoise", "--rates", "16000", "--blocks", "64", "--seconds", "0.05")
    assert r.returncode == 0 and "latency in ms (465 samples of the operator" in r.out
    assert r.out.splitlines()[-1].split() == ["64", f"{1000 * (465 + 64) / 16000:.2f}"]


def _peak_rss_kb(args, stdin_path):
    import os
    import subprocess
    import sys

    from cli_run import env

    with open(stdin_path, "rb") as source, open(os.devnull, "wb") as sink:
        child = subprocess.Popen([sys.executable, "-m", "wavedil", *map(str, args)],
                                 stdin=source, stdout=sink, stderr=subprocess.PIPE, env=env())
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        assert child.returncode == 0, child.stderr.read()
        child.stderr.close()
    return usage.ru_maxrss


def test_memory_is_bounded_by_the_block_not_the_file(tmp_path):
    """Peak RSS for 5 minutes of 48 kHz audio through a pipe stays within 20 MB of the
    peak for 2 seconds (the whole 5 minutes as float32 would be 58 MB)."""
    rng = np.random.default_rng(0)
    for name, seconds in (("short.raw", 2), ("long.raw", 300)):
        with open(tmp_path / name, "wb") as f:
            for _ in range(seconds):
                f.write((3000 * rng.standard_normal(48000)).astype("<i2").tobytes())
    args = [*IDENTITY, "-", "-", "--rate", "48000", "--channels", "1", "--encoding", "s16le"]
    short = _peak_rss_kb(args, tmp_path / "short.raw")
    long = _peak_rss_kb(args, tmp_path / "long.raw")
    assert long - short < 20_000, f"peak RSS {short} kB for 2 s, {long} kB for 300 s"


def test_compile_line_only_when_numba_compiled(work, tmp_path_factory):
    """A fresh numba cache compiles (the line says how long, measured); the next run
    loads the cache and prints no such line."""
    from cli_run import env

    cache = tmp_path_factory.mktemp("numba-cache")
    runs = []
    for _ in range(2):
        import subprocess
        import sys

        runs.append(subprocess.run(
            [sys.executable, "-m", "wavedil", "denoise", str(work / "in16.wav"),
             str(work / "o.wav")], capture_output=True, text=True, timeout=600,
            env=env(NUMBA_CACHE_DIR=str(cache))))
    assert all(r.returncode == 0 for r in runs), runs[0].stderr + runs[1].stderr
    assert "compiled the kernels in" in runs[0].stdout
    assert "compiled the kernels" not in runs[1].stdout


def test_progress_bar_only_on_a_terminal(work):
    import os
    import pty
    import subprocess
    import sys

    from cli_run import env

    piped = wavedil(*IDENTITY, work / "in16.wav", work / "a.wav", "--block", "100")
    assert piped.returncode == 0 and piped.err == ""  # no bar into a pipe
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # a real size
    child = subprocess.Popen([sys.executable, "-m", "wavedil", *IDENTITY,
                              str(work / "in16.wav"), str(work / "b.wav"), "--block", "100"],
                             stdout=subprocess.DEVNULL, stderr=slave, env=env())
    os.close(slave)
    assert child.wait(timeout=60) == 0
    seen = os.read(master, 1 << 20)
    os.close(master)
    assert b"\rin16.wav:   0%|" in seen  # tqdm's bar, on the terminal
    quiet = wavedil(*IDENTITY, work / "in16.wav", work / "c.wav", "--quiet")
    assert quiet.returncode == 0 and quiet.out == "" and quiet.err == ""
