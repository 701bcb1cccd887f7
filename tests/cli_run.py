"""Helpers for the end-to-end command-line tests: run ``python -m wavedil`` on the code
under test in a subprocess and check what a user sees."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


def env(**extra):
    out = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore")
    out.update(extra)
    return out


def wavedil(*args, stdin=None, cwd=None, preexec_fn=None, timeout=300, tty=None):
    """Run the command; stdout stays bytes (it may be audio), stderr is text. ``tty``: a
    terminal's file descriptor for stdin and stdout (stdout is then not captured)."""
    if tty is not None:
        result = subprocess.run([sys.executable, "-m", "wavedil", *map(str, args)], stdin=tty,
                                stdout=tty, stderr=subprocess.PIPE, env=env(), cwd=cwd,
                                timeout=timeout)
        result.stdout = b""
    else:
        result = subprocess.run([sys.executable, "-m", "wavedil", *map(str, args)],
                                input=stdin, capture_output=True, env=env(), cwd=cwd,
                                preexec_fn=preexec_fn, timeout=timeout)
    result.err = result.stderr.decode()
    result.out = result.stdout.decode(errors="replace")
    return result


def one_line_error(result, code, *needles):
    """Exit status ``code``, exactly one line on stderr containing every needle."""
    lines = result.err.strip().splitlines()
    assert result.returncode == code, (result.returncode, result.err)
    assert len(lines) == 1, f"expected one line on stderr, got: {result.err!r}"
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def names(folder):
    """Everything in ``folder`` (hidden temporary files included)."""
    return sorted(p.name for p in Path(folder).iterdir())


def write_wav(path, audio, rate=8000, subtype="PCM_16"):
    sf.write(str(path), np.asarray(audio).T if np.ndim(audio) == 2 else audio, rate,
             subtype=subtype)
    return path


def noise(channels=1, frames=4000, scale=0.2, seed=0):
    return (scale * np.random.default_rng(seed).standard_normal((channels, frames))
            ).astype(np.float32)


IDENTITY = ["denoise", "--wavelet", "haar", "--levels", "1", "--threshold", "0",
            "--sigma", "0.1"]  # perfect reconstruction: the output is the input
