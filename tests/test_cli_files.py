"""End to end: bad inputs, refused outputs, modes, full disks and signals. Each case runs
the command in a subprocess and checks one line on stderr, the exit status, no leftover
temporary file and an untouched existing output."""

import json
import os
import resource
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from cli_run import DATA, IDENTITY, env, names, noise, one_line_error, wavedil, write_wav

from wavedil.models.stack import TCN

pytestmark = pytest.mark.slow


@pytest.fixture
def work(tmp_path):
    write_wav(tmp_path / "in.wav", noise(2, 3000))
    TCN(1, [4, 4], kernel_size=3, out_channels=1, seed=1).save(tmp_path / "m.npz")
    return tmp_path


def test_version_help_and_exit_codes_documented():
    r = wavedil("--version")
    assert r.returncode == 0 and r.out.startswith("wavedil 0.") and "libsndfile" in r.out
    r = wavedil("filter", "--help")
    assert r.returncode == 0
    assert "exit status: 0 success; 1 a data or file error" in r.out
    text = " ".join((r.out + wavedil("denoise", "--help").out).split())
    for phrase in ("causal: zero analysis latency", "thresholding rule: soft", "or - for stdin",
                   "or - for stdout", "output subtype", "allow the output to be the input",
                   "s8, u8, s16le, s24le", "SIGINT / SIGTERM"):
        assert phrase in text, phrase


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink"])
def test_output_that_is_the_input_is_refused(work, link):
    source = work / "in.wav"
    before = source.read_bytes()
    out = {"same": source, "symlink": work / "link.wav", "hardlink": work / "hard.wav"}[link]
    if link == "symlink":
        out.symlink_to(source)
    elif link == "hardlink":
        os.link(source, out)
    listing = names(work)
    r = wavedil("filter", work / "m.npz", source, out)
    one_line_error(r, 1, str(out), "is the input file", "--in-place")
    assert source.read_bytes() == before and names(work) == listing


def test_in_place_replaces_the_input_after_a_complete_run(work):
    source = work / "in.wav"
    os.chmod(source, 0o640)
    reference = work / "ref.wav"
    assert wavedil("filter", work / "m.npz", source, reference, "-q").returncode == 0
    r = wavedil("filter", work / "m.npz", source, source, "--in-place", "-q")
    assert r.returncode == 0 and r.err == "" and r.out == ""
    assert source.read_bytes() == reference.read_bytes()
    assert stat.S_IMODE(source.stat().st_mode) == 0o640
    assert names(work) == ["in.wav", "m.npz", "ref.wav"]


def test_bad_inputs_give_one_line_and_leave_the_output_alone(work):
    out = work / "out.wav"
    out.write_bytes(b"precious")
    (work / "junk.wav").write_bytes(b"not audio at all" * 10)
    good = (work / "in.wav").read_bytes()
    (work / "cut.wav").write_bytes(good[:30])  # a header cut short
    (work / "junk.npz").write_bytes(b"PK\x03\x04 not a zip")
    TCN(1, [4], kernel_size=3, out_channels=2, seed=0).save(work / "wide.npz")
    model = work / "m.npz"
    cases = [
        (["filter", model, work / "missing.wav", out], 1, ["missing.wav", "no such file"]),
        (["filter", model, work, out], 1, [str(work), "is a directory"]),
        (["filter", model, work / "junk.wav", out], 1, ["junk.wav", "not an audio file"]),
        (["filter", model, work / "cut.wav", out], 1, ["cut.wav", "not an audio file"]),
        (["filter", work / "none.npz", work / "in.wav", out], 1, ["none.npz", "no such"]),
        (["filter", work / "junk.npz", work / "in.wav", out], 1, ["junk.npz", "not a wavedil"]),
        (["filter", work / "wide.npz", work / "in.wav", out], 1, ["wide.npz", "got 1 in and 2"]),
        (["filter", model, work / "in.wav", work / "no" / "dir" / "o.wav"], 1,
         [str(work / "no" / "dir"), "does not exist"]),
        (["filter", model, work / "in.wav", work / "o.xyz"], 1, ["o.xyz", "--format"]),
        (["filter", model, work / "in.wav", work], 1, ["is a directory"]),
    ]
    for args, code, needles in cases:
        one_line_error(wavedil(*args), code, *needles)
    assert out.read_bytes() == b"precious"
    assert not (work / "no").exists()
    assert names(work) == ["cut.wav", "in.wav", "junk.npz", "junk.wav", "m.npz", "out.wav",
                           "wide.npz"]


def test_a_model_of_a_newer_format_is_refused(work):
    arrays = dict(np.load(work / "m.npz"))
    meta = json.loads(str(arrays["__config__"]))
    meta["format_version"] = 99
    arrays["__config__"] = np.array(json.dumps(meta))
    np.savez(work / "new.npz", **arrays)
    r = wavedil("filter", work / "new.npz", work / "in.wav", work / "o.wav")
    one_line_error(r, 1, "new.npz", "format version 99 is newer")


@pytest.mark.parametrize("args, needle", [
    (["--block", "0"], "--block: expected an integer >= 1, got '0'"),
    (["--block", "ten"], "--block: expected an integer >= 1, got 'ten'"),
    (["--levels", "-2"], "--levels: expected an integer >= 1, got '-2'"),
    (["--sigma", "nan"], "--sigma: expected a positive number, got 'nan'"),
    (["--rate", "8000"], "raw input needs --rate, --channels and --encoding together"),
    (["--subtype", "PCM_99"], "cannot hold subtype 'PCM_99'"),
])
def test_bad_options_are_usage_errors(work, args, needle):
    r = wavedil("denoise", work / "in.wav", work / "o.wav", *args)
    code = 1 if "PCM_99" in needle else 2
    one_line_error(r, code, needle)
    assert names(work) == ["in.wav", "m.npz"]


def test_non_finite_samples_are_refused_with_count_and_first_index(work):
    audio = noise(2, 5000)
    audio[1, 3210] = np.nan
    audio[0, 4000:4003] = np.inf
    write_wav(work / "nan.wav", audio, subtype="FLOAT")
    (work / "out.wav").write_bytes(b"precious")
    r = wavedil("filter", work / "m.npz", work / "nan.wav", work / "out.wav", "--block", "512")
    one_line_error(r, 1, "nan.wav", "4 sample(s) are NaN or infinite", "first at frame 3210",
                   "channel 2")
    assert (work / "out.wav").read_bytes() == b"precious"
    assert names(work) == ["in.wav", "m.npz", "nan.wav", "out.wav"]


@pytest.mark.parametrize("frames", [0, 1])
def test_empty_and_one_sample_files(work, frames):
    audio = np.full((2, frames), 0.25, np.float32)
    write_wav(work / "short.wav", audio, subtype="FLOAT")
    for command in (["filter", work / "m.npz"], ["denoise"]):
        r = wavedil(*command, work / "short.wav", work / "o.wav")
        assert r.returncode == 0, r.err
        assert f"{frames} samples x 2 channel(s)" in r.out
        written, rate = sf.read(work / "o.wav", always_2d=True)
        assert written.shape == (frames, 2) and rate == 8000


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_files_get_the_umask_mode(work, umask):
    r = wavedil("filter", work / "m.npz", work / "in.wav", work / "o.wav", "-q",
                preexec_fn=lambda: os.umask(umask))
    assert r.returncode == 0, r.err
    assert stat.S_IMODE((work / "o.wav").stat().st_mode) == 0o666 & ~umask


def test_replaced_files_keep_their_mode_and_read_only_ones_are_refused(work):
    out = work / "o.wav"
    out.write_bytes(b"old")
    os.chmod(out, 0o604)
    assert wavedil("filter", work / "m.npz", work / "in.wav", out, "-q").returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o604 and out.read_bytes() != b"old"
    os.chmod(out, 0o444)
    before = out.read_bytes()
    one_line_error(wavedil("filter", work / "m.npz", work / "in.wav", out), 1,
                   "is read-only (mode 0444)")
    assert out.read_bytes() == before


def test_a_symlinked_output_is_written_through_to_its_target(work):
    target = work / "real.wav"
    target.write_bytes(b"old")
    (work / "link.wav").symlink_to(target)
    assert wavedil("filter", work / "m.npz", work / "in.wav", work / "link.wav").returncode == 0
    assert (work / "link.wav").is_symlink() and sf.info(str(target)).frames == 3000


@pytest.mark.parametrize("how", ["path", "symlink"])
def test_a_full_disk_says_so(work, how):
    if how == "path":
        r = wavedil("filter", work / "m.npz", work / "in.wav", "/dev/full", "--format", "WAV")
        name = "/dev/full"
    else:
        (work / "full.wav").symlink_to("/dev/full")
        r = wavedil("filter", work / "m.npz", work / "in.wav", work / "full.wav")
        name = str(work / "full.wav")
    one_line_error(r, 1, name, "no space left on device")
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")


def test_a_write_that_fails_midway_leaves_no_temporary_file(work):
    """A file size limit makes the write fail after 20 kB, as a full disk would."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))

    write_wav(work / "long.wav", noise(2, 40000))
    (work / "out.wav").write_bytes(b"precious")
    r = wavedil("filter", work / "m.npz", work / "long.wav", work / "out.wav", "--block", "256",
                preexec_fn=limit)
    one_line_error(r, 1, "out.wav", "file too large")
    assert (work / "out.wav").read_bytes() == b"precious"
    assert names(work) == ["in.wav", "long.wav", "m.npz", "out.wav"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_file_removes_the_temporary_output(work, signum):
    write_wav(work / "long.wav", noise(2, 8000 * 600, scale=0.1))  # ten minutes
    (work / "out.wav").write_bytes(b"precious")
    child = subprocess.Popen(
        [sys.executable, "-m", "wavedil", *IDENTITY, str(work / "long.wav"),
         str(work / "out.wav"), "--block", "16"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), text=True)
    deadline = time.monotonic() + 120
    while not any(n.endswith(".part") for n in names(work)):
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.05)
    time.sleep(0.3)
    child.send_signal(signum)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 128 + signum, err
    assert err.strip().splitlines() == [
        f"wavedil denoise: interrupted by {signal.Signals(signum).name}; no output written"]
    assert (work / "out.wav").read_bytes() == b"precious"
    assert names(work) == ["in.wav", "long.wav", "m.npz", "out.wav"]


def test_debug_shows_the_traceback(work):
    r = wavedil("filter", work / "m.npz", work / "missing.wav", work / "o.wav", "--debug")
    assert r.returncode == 1 and "Traceback" in r.err and "missing.wav" in r.err


def test_make_demo_commands_still_run(tmp_path):
    (tmp_path / "out").mkdir()
    r = wavedil("filter", DATA / "effect_model.npz", DATA / "guitar_test.wav",
                "out/guitar_fx.wav", "--block", "256", "--check", cwd=tmp_path)
    assert r.returncode == 0, r.err
    assert "63954 of 64000 samples identical" in r.out or "samples identical" in r.out
