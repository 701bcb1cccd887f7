"""examples/receptive_field.py runs (small size) and prints the numbers it promises."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs example scripts in subprocesses
ROOT = Path(__file__).resolve().parent.parent


def test_receptive_field_example(tmp_path):
    png = tmp_path / "erf.png"
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "receptive_field.py"),
                          "--small", "--output", str(png)],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "1 + 2 (K-1) nb_stacks sum(d) = 1 + 2*2*1*127 = 509 samples" in out
    assert "counting one conv per block would give 255" in out
    assert "receptive field: 509 samples (past 508, lookahead 0)" in out
    assert ("pytorch-tcn TCN, traced: 509 samples (past 508, lookahead 0); input-gradient "
            "support: 509 samples (past 508, lookahead 0)") in out
    assert "wavedil numpy TCN: spec 509 samples; impulse response 509 samples" in out
    assert "14 lags are never read" in out
    assert "1,3,9,27,81,243,729,2187,720" in out
    assert png.read_bytes().startswith(b"\x89PNG")
