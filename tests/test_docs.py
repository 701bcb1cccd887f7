"""Documentation cannot rot: every README code block and every example runs here."""

import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_has_the_two_setup_commands_and_python_blocks():
    assert "make demo" in README and "make test" in README
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_code_block_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"README block {index}", "exec"), {"__name__": "__readme__"})


GUIDES = {page.name: re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
          for page in [ROOT / "docs" / "guides" / "dask.md"]}  # the guides whose blocks run


@pytest.mark.slow
@pytest.mark.parametrize(("page", "index"), [(p, i) for p, b in GUIDES.items()
                                             for i in range(len(b))])
def test_guide_code_block_runs(page, index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(GUIDES[page][index], f"{page} block {index}", "exec"), {"__name__": "__guide__"})


def test_seed_example_prints_the_worked_example(capsys):
    runpy.run_path(str(ROOT / "examples" / "seed_example.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "equal to scipy.signal.convolve2d with the dilated kernel: True" in out


@pytest.mark.slow
def test_demo_streams_equal_to_offline(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--output", str(tmp_path / "d.wav")],
        capture_output=True, text=True, check=True)
    assert "EQUAL" in result.stdout and (tmp_path / "d.wav").stat().st_size > 1000


def test_offline_threads_example_splits_equal_to_one_stream(capsys):
    namespace = runpy.run_path(str(ROOT / "examples" / "offline_threads.py"))
    errors = namespace["main"](["--repeat", "1"])
    assert set(errors) == {"one recording", "batch of clips"}
    assert max(errors.values()) <= 1e-5
    assert capsys.readouterr().out.count("EQUAL within float32 tolerance") == 2


def test_effect_streaming_example_streams_equal_to_offline(capsys):
    namespace = runpy.run_path(str(ROOT / "examples" / "effect_streaming.py"))
    result = namespace["main"]([])
    assert result["error"] <= 1e-5 and result["chunks"] > 100
    assert "EQUAL within float32 tolerance" in capsys.readouterr().out


def test_lookahead_example_streams_equal_to_pytorch_tcn(capsys):
    """The non-causal pytorch-tcn model: its stream equals pytorch-tcn's forward, and it
    holds back the lookahead the receptive-field tooling reports."""
    namespace = runpy.run_path(str(ROOT / "examples" / "lookahead_stream.py"))
    result = namespace["main"](["--seconds", "1"])
    assert result["error"] <= 1e-5
    # pytorch-tcn's non-causal padding: (K - 1) d split as left ((K - 1) d // 2), right the
    # rest; two convs per block
    assert result["latency"] == result["lookahead"] == sum(2 * (3 * d - 3 * d // 2)
                                                           for d in (1, 2, 4, 8))
    assert "EQUAL within float32 tolerance" in capsys.readouterr().out


def test_nam_example_streams_equal_to_offline_and_to_nam(capsys):
    namespace = runpy.run_path(str(ROOT / "examples" / "nam_model.py"))
    errors = namespace["main"](["--buffer", "256"])
    assert set(errors) == {"stream vs offline", "wavedil vs NAM"}
    assert max(errors.values()) <= 1e-5
    assert capsys.readouterr().out.count("EQUAL within float32 tolerance") == 2


def test_nino_example_finds_el_nino(tmp_path, capsys):
    """The MRA adds up to the series; the CWT's strongest period outside the cone agrees
    with the periodogram of the anomaly computed here; the 2-16 year components peak in
    the strong El Niño events of 1982-83 and 1997-98."""
    import numpy as np
    import pywt

    namespace = runpy.run_path(str(ROOT / "examples" / "nino_scalogram.py"))
    output = tmp_path / "nino.png"
    assert namespace["main"](["--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert float(out.split("max |sum - x| = ")[1].split()[0]) < 1e-12
    period = float(out.split("outside the cone of influence: ")[1].split()[0])
    _, sst = pywt.data.nino()
    anomaly = sst - np.tile(sst.reshape(-1, 4).mean(axis=0), sst.size // 4)
    power = np.abs(np.fft.rfft(anomaly)) ** 2
    peak = 1 / np.fft.rfftfreq(sst.size, 0.25)[1:][np.argmax(power[1:])]
    assert 2 < peak < 7 and abs(period - peak) / peak < 0.25, (period, peak)
    line = out.split("largest peaks of D3 + D4 + D5: ")[1].splitlines()[0]
    years = [float(y) for y in line.split(", ")]
    assert any(1982.5 <= y <= 1983.5 for y in years), years
    assert any(1997.5 <= y <= 1998.5 for y in years), years
    for png in (output, tmp_path / "nino_scalogram.png"):
        assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000
