"""The ``wavedil rf`` and ``wavedil plan`` commands: tables on stdout, errors on stderr."""

import os
import subprocess
import sys

import pytest

from wavedil.cli import main
from wavedil.models.stack import TCN


def test_rf_schedule_table(capsys):
    code = main(["rf", "--kernel", "3", "--dilations", "1,2,4,8,16,32,64",
                 "--convs-per-block", "2", "--sample-rate", "16000"])
    out = capsys.readouterr().out
    assert code == 0
    # keras-tcn: 1 + 2 (K - 1) sum(d) = 509 samples
    assert "receptive field: 509 samples (past 508, lookahead 0) = 31.81 ms at 16000 Hz" in out
    assert "stack0.block6.conv1" in out and "gaps: none" in out


def test_rf_stacks_and_gaps(capsys):
    assert main(["rf", "--kernel", "3", "--dilations", "1,2,4,8", "--stacks", "2"]) == 0
    assert "receptive field: 61 samples" in capsys.readouterr().out
    assert main(["rf", "--kernel", "2", "--dilations", "1,4,16"]) == 0
    assert "gaps: 14 lags never reached: -19..-18, -15..-6, -3..-2" in capsys.readouterr().out


def test_rf_model_file(tmp_path, capsys):
    model = TCN(1, [4, 4, 4], kernel_size=3, out_channels=1)
    path = str(tmp_path / "tcn.npz")
    model.save(path)
    assert main(["rf", path, "--sample-rate", "8000"]) == 0
    out = capsys.readouterr().out
    # three two-conv blocks, kernel 3, dilations 1, 2, 4: 1 + 2 * 2 * 7 = 29
    assert "receptive field: 29 samples (past 28, lookahead 0)" in out


def test_plan_table(capsys):
    assert main(["plan", "--seconds", "0.5", "--sample-rate", "16000", "--kernel", "3"]) == 0
    out = capsys.readouterr().out
    assert "target: 8000 samples (500 ms at 16000 Hz)" in out
    first = out.splitlines()[3].split()
    assert first[:3] == ["1", "9", "1,3,9,27,81,243,729,2187,720"]


def test_plan_ten_seconds_at_48_khz(capsys):
    assert main(["plan", "--seconds", "10", "--sample-rate", "48000", "--kernel", "3"]) == 0
    out = capsys.readouterr().out
    assert "target: 480000 samples (10 s at 48000 Hz)" in out
    first = out.splitlines()[3].split()
    assert first[:2] == ["1", "12"] and "(10 s)" in out and "e+" not in out


def test_errors_go_to_stderr(capsys):
    assert main(["rf", "--kernel", "0", "--dilations", "1,2"]) == 1
    err = capsys.readouterr()
    assert err.out == "" and "kernel_size must be an integer >= 1, got 0" in err.err
    assert main(["rf", "--kernel", "3"]) == 1
    assert "needs a model file, or --kernel and --dilations" in capsys.readouterr().err
    assert main(["rf", "--kernel", "3", "--dilations", "1,x"]) == 2
    assert "expected comma-separated integers" in capsys.readouterr().err
    assert main(["rf", "missing.npz"]) == 1
    assert "missing.npz" in capsys.readouterr().err
    assert main(["plan", "--samples", "100", "--kernel", "1"]) == 1
    assert "expected a kernel_size >= 2, got 1" in capsys.readouterr().err
    assert main(["plan", "--kernel", "3"]) == 2  # no target
    assert main([]) == 2


@pytest.mark.slow
def test_python_dash_m_and_console_script():
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    run = subprocess.run([sys.executable, "-m", "wavedil", "rf", "--kernel", "2",
                          "--dilations", ",".join(str(2**i) for i in range(10))],
                         capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "receptive field: 1024 samples" in run.stdout  # WaveNet: 1024 per stack
    script = os.path.join(os.path.dirname(sys.executable), "wavedil")
    bad = subprocess.run([script, "plan", "--samples", "-3"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert bad.returncode == 1 and "samples must be an integer >= 1, got -3" in bad.stderr
    assert bad.stdout == ""
