"""The command-line filters: model files and the denoiser, streamed block by block."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavedil.cli import main
from wavedil.models.loader import load
from wavedil.models.stack import TCN
from wavedil.wavelets.denoise_stream import Denoiser

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture
def stereo(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "in.wav"
    sf.write(path, (0.2 * rng.standard_normal((3000, 2))).astype(np.float32), 8000,
             subtype="FLOAT")
    return path


def test_filter_streams_a_model_file_equal_to_offline(stereo, tmp_path, capsys):
    model = TCN(1, [4, 4], kernel_size=3, out_channels=1, seed=1)
    model.save(tmp_path / "m.npz")
    out = tmp_path / "out.wav"
    assert main(["filter", str(tmp_path / "m.npz"), str(stereo), str(out), "--block", "97",
                 "--check"]) == 0
    audio, _ = sf.read(stereo, dtype="float32", always_2d=True)
    written, rate = sf.read(out, dtype="float32", always_2d=True)
    expected = load(tmp_path / "m.npz")(audio.T[:, None, :])[:, 0, :].T
    assert rate == 8000 and written.shape == audio.shape
    np.testing.assert_allclose(written, expected, atol=1e-5)
    text = capsys.readouterr().out
    assert "latency 0 samples" in text and "max |written - offline| = " in text


def test_check_compares_with_the_offline_result_written_the_same_way(tmp_path, capsys):
    """For integer formats --check also writes the offline result as the output file is
    written and counts the samples that differ (a float difference of ~1e-7 can cross a
    rounding boundary; more than a step, or many samples, would be a bug)."""
    path = tmp_path / "in16.wav"
    rng = np.random.default_rng(2)
    sf.write(path, 0.3 * rng.standard_normal(6000), 8000, subtype="PCM_16")
    model = TCN(1, [4, 4], kernel_size=3, out_channels=1, seed=1)
    model.save(tmp_path / "m.npz")
    assert main(["filter", str(tmp_path / "m.npz"), str(path), str(tmp_path / "o.wav"),
                 "--block", "50", "--check"]) == 0
    line = [t for t in capsys.readouterr().out.splitlines() if "written as PCM_16" in t][0]
    identical, total, steps = map(int, re.findall(r"(\d+) of (\d+) samples identical, "
                                                  r"the rest within (\d+) step", line)[0])
    assert total == 6000 and identical >= 0.99 * total and steps <= 1


def test_denoise_command_equals_the_denoiser_operator(stereo, tmp_path, capsys):
    out = tmp_path / "clean.wav"
    assert main(["denoise", str(stereo), str(out), "--wavelet", "haar", "--levels", "3",
                 "--sigma", "0.2", "--threshold", "2", "--block", "50"]) == 0
    audio, _ = sf.read(stereo, dtype="float32", always_2d=True)
    written, _ = sf.read(out, dtype="float32", always_2d=True)
    op = Denoiser("haar", 3, alignment="causal", threshold=2.0, sigma=0.2)
    np.testing.assert_allclose(written, op(audio.T[:, None, :])[:, 0, :].T, atol=1e-5)
    assert f"latency {op.latency} samples" in capsys.readouterr().out


def test_errors_exit_non_zero_and_leave_no_output(stereo, tmp_path, capsys):
    wide = TCN(1, [4], kernel_size=3, out_channels=2, seed=0)
    wide.save(tmp_path / "wide.npz")
    out = tmp_path / "out.wav"
    assert main(["filter", str(tmp_path / "wide.npz"), str(stereo), str(out)]) == 1
    assert "1 input and 1 output channel, got 1 in and 2 out" in capsys.readouterr().err
    assert main(["filter", str(tmp_path / "missing.npz"), str(stereo), str(out)]) == 1
    assert "missing.npz" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_shipped_model_runs_from_the_console_script(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "wavedil", "filter", str(DATA / "effect_model.npz"),
         str(DATA / "guitar_test.wav"), str(tmp_path / "fx.wav"), "--block", "256"],
        capture_output=True, text=True, check=True)
    assert "real-time factor" in result.stdout
    assert sf.info(str(tmp_path / "fx.wav")).frames == sf.info(str(DATA / "guitar_test.wav")).frames
