"""``wavedil filter amp.nam in.wav out.wav``: a Neural Amp Modeler file on the command line,
against NAM's own outputs (tests/data/nam/expected.npz), and its sample-rate check."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavedil.cli import main

NAM_DATA = Path(__file__).resolve().parent / "data" / "nam"
EXPECTED = np.load(NAM_DATA / "expected.npz")


@pytest.fixture
def guitar48k(tmp_path):
    path = tmp_path / "in.wav"
    sf.write(path, EXPECTED["input"], 48000, subtype="FLOAT")
    return path


@pytest.mark.parametrize("name", ["nano", "variety"])
def test_filter_a_nam_file_equals_nams_model(guitar48k, tmp_path, capsys, name):
    out = tmp_path / "out.wav"
    assert main(["filter", str(NAM_DATA / f"{name}.nam"), str(guitar48k), str(out),
                 "--block", "97", "--subtype", "FLOAT"]) == 0
    written, rate = sf.read(out, dtype="float32")
    expected = EXPECTED[f"{name}.float32"]
    assert rate == 48000
    np.testing.assert_allclose(written, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    assert "latency 0 samples" in capsys.readouterr().out


def test_a_sample_rate_mismatch_is_refused_unless_told(tmp_path, capsys):
    path, out = tmp_path / "in44.wav", tmp_path / "out.wav"
    sf.write(path, EXPECTED["input"], 44100, subtype="FLOAT")
    assert main(["filter", str(NAM_DATA / "nano.nam"), str(path), str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "44100 Hz, but the model" in err[0]
    assert "trained at 48000 Hz" in err[0] and "--ignore-rate" in err[0]
    assert not out.exists()
    assert main(["filter", str(NAM_DATA / "nano.nam"), str(path), str(out), "-q",
                 "--ignore-rate"]) == 0
    assert sf.info(out).samplerate == 44100


def test_a_file_without_a_sample_rate_is_taken_as_48k(guitar48k, tmp_path, capsys):
    """NAM's own convention for files of the older format, which give no rate."""
    out = tmp_path / "out.wav"
    assert main(["filter", str(NAM_DATA / "nano_old.nam"), str(guitar48k), str(out), "-q"]) == 0
    path = tmp_path / "in16.wav"
    sf.write(path, EXPECTED["input"], 16000, subtype="FLOAT")
    assert main(["filter", str(NAM_DATA / "nano_old.nam"), str(path), str(out)]) == 1
    assert "trained at 48000 Hz" in capsys.readouterr().err
