"""The à trous examples run (small options) and print what they promise."""

import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

pytestmark = pytest.mark.slow  # runs example scripts in subprocesses
ROOT = Path(__file__).resolve().parent.parent


def run(script, *args):
    result = subprocess.run([sys.executable, str(ROOT / "examples" / script), *args],
                            capture_output=True, text=True, check=True, cwd=ROOT)
    return result.stdout


def test_wavelet_analysis_on_the_pywt_ecg(tmp_path):
    out = run("wavelet_analysis.py", "--output", str(tmp_path / "ecg.png"))
    assert "ecg: 1024 samples at 360 Hz" in out and "c6" in out
    error = float(out.split("max |sum - x| = ")[1].split()[0])
    assert error < 1e-9
    for name in ["ecg.png", "ecg_scalogram.png"]:
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")


def test_wavelet_analysis_on_nino(tmp_path):
    out = run("wavelet_analysis.py", "--series", "nino", "--levels", "4", "--wavelet", "db2",
              "--output", str(tmp_path / "nino.png"))
    assert "nino: 264 samples" in out and (tmp_path / "nino.png").stat().st_size > 5000


def test_denoise_speech_improves_the_snr(tmp_path):
    out = run("denoise_speech.py", "--seconds", "2", "--levels", "6",
              "--output", str(tmp_path / "d.wav"))
    snrs = {line.split(" SNR ")[0].strip(): float(line.split(" SNR ")[1].split()[0])
            for line in out.splitlines() if " SNR " in line}
    assert snrs["offline sym8, 6 levels, bayes"] > snrs["input"] + 4
    assert snrs["stream sym8, 5 levels, latency 465 samples"] > snrs["input"] + 4
    assert snrs["stream starlet, 6 levels, latency 126 samples"] > snrs["input"] + 4
    audio, rate = sf.read(tmp_path / "d.wav")
    assert rate == 16000 and audio.size == 32000
