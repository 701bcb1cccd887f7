"""The benchmark framework: interleaved timing, Markdown tables, the runner at smoke size.

Benchmarks measure; nothing here asserts a time. The timing logic is checked with a fake
clock whose time advances only when a candidate runs.
"""

import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

from common import md_table, time_interleaved  # noqa: E402


class FakeClock:
    """A clock that moves only when a fake candidate says it has spent time."""

    def __init__(self):
        self.now = 0.0
        self.log = []

    def __call__(self) -> float:
        return self.now

    def candidate(self, name, costs):
        costs = iter(costs)

        def call():
            self.log.append(name)
            self.now += next(costs)

        return call


def test_time_interleaved_warms_up_then_alternates():
    clock = FakeClock()
    candidates = {"a": clock.candidate("a", [1.0] * 10), "b": clock.candidate("b", [2.0] * 10)}
    result = time_interleaved(candidates, repeats=4, min_time=0.5, clock=clock)
    # warm-up and calibration per candidate, then rounds a b a b ...
    assert clock.log == ["a", "a", "b", "b"] + ["a", "b"] * 4
    assert result == {"a": 1.0, "b": 2.0}


def test_time_interleaved_returns_the_median_of_the_rounds():
    clock = FakeClock()
    # warm-up 100 (ignored), calibration 1, then the five timed rounds
    costs = [100.0, 1.0, 5.0, 1.0, 3.0, 100.0, 2.0]
    result = time_interleaved({"a": clock.candidate("a", costs)}, repeats=5, min_time=0.5,
                              clock=clock)
    assert result == {"a": 3.0}  # median of 5, 1, 3, 100, 2 (an outlier does not move it)
    even = FakeClock()
    result = time_interleaved({"a": even.candidate("a", [9.0, 1.0, 4.0, 1.0, 2.0, 8.0])},
                              repeats=4, min_time=0.5, clock=even)
    assert result == {"a": 3.0}  # median of 4, 1, 2, 8


def test_ratio_is_the_median_of_the_per_round_ratios():
    clock = FakeClock()
    # after warm-up and calibration, round i costs a[i] and b[i]; round 2 is a slow spell
    a = clock.candidate("a", [1.0, 1.0, 1.0, 1.0, 4.0])
    b = clock.candidate("b", [1.0, 1.0, 2.0, 2.0, 8.0])
    result = time_interleaved({"a": a, "b": b}, repeats=3, min_time=0.5, clock=clock)
    assert result == {"a": 1.0, "b": 2.0}
    assert result.ratio("b", "a") == 2.0  # each round's ratio is 2, the spell included
    assert result.samples == {"a": [1.0, 1.0, 4.0], "b": [2.0, 2.0, 8.0]}


def test_time_interleaved_loops_fast_calls_and_divides():
    clock = FakeClock()
    fast = clock.candidate("fast", [0.001] * 1000)
    slow = clock.candidate("slow", [0.5] * 1000)
    result = time_interleaved({"fast": fast, "slow": slow}, repeats=3, min_time=0.02,
                              clock=clock)
    assert result["fast"] == pytest.approx(0.001)
    assert result["slow"] == pytest.approx(0.5)
    per_sample = (clock.log.count("fast") - 2) / 3
    assert per_sample == int(per_sample) and per_sample * 0.001 >= 0.02  # >= min_time each
    assert clock.log.count("slow") == 2 + 3  # slow calls are not looped


def test_time_interleaved_pauses_before_each_timed_sample(monkeypatch):
    import common

    events = []
    monkeypatch.setattr(common.time, "sleep", lambda seconds: events.append(seconds))
    clock = FakeClock()
    candidates = {"a": clock.candidate("a", [1.0] * 10), "b": clock.candidate("b", [2.0] * 10)}
    result = time_interleaved(candidates, repeats=3, min_time=0.5, pause=0.25, clock=clock)
    assert result == {"a": 1.0, "b": 2.0}  # the pause is not timed
    assert events == [0.25] * 6  # one per timed sample, none for warm-up and calibration


def test_time_interleaved_with_the_real_clock():
    result = time_interleaved({"noop": lambda: None, "sum": lambda: sum(range(100))}, 2,
                              min_time=0.001)
    assert set(result) == {"noop", "sum"}
    assert all(0 < t < 0.001 for t in result.values())


def test_time_interleaved_rejects_bad_arguments():
    with pytest.raises(ValueError, match="at least one candidate"):
        time_interleaved({})
    with pytest.raises(ValueError, match="repeats must be an integer >= 1, got 0"):
        time_interleaved({"a": lambda: None}, repeats=0)


def test_md_table():
    text = md_table(["name", "time (ms)", "ratio"],
                    [["a|b", 1.23456789, 2], ["c", 1e-7, "x"]])
    assert text.splitlines() == [
        "| name | time (ms) | ratio |",
        "| --- | --- | --- |",
        "| a\\|b | 1.235 | 2 |",
        "| c | 1e-07 | x |",
    ]
    assert md_table(["only"], []) == "| only |\n| --- |"
    with pytest.raises(ValueError, match="row 1 has 1 cells, expected 2"):
        md_table(["a", "b"], [[1, 2], [3]])


@pytest.mark.slow
def test_runner_reports_a_failing_module_and_exits_nonzero(tmp_path, monkeypatch, capsys):
    import run

    def boom(smoke):
        raise RuntimeError("broken benchmark")

    monkeypatch.setitem(sys.modules, "bench_fake_ok",
                        types.SimpleNamespace(run=lambda smoke: f"## Fake ok (smoke={smoke})"))
    monkeypatch.setitem(sys.modules, "bench_fake_bad", types.SimpleNamespace(run=boom))
    monkeypatch.setattr(run, "bench_names", lambda: ["bench_fake_bad", "bench_fake_ok"])
    monkeypatch.setattr(run, "machine_report", lambda smoke: "| machine |")
    output = tmp_path / "R.md"
    assert run.main(["--smoke", "--output", str(output)]) == 1
    text = output.read_text()
    assert "## bench_fake_bad: FAILED" in text and "broken benchmark" in text
    assert "## Fake ok (smoke=True)" in text  # the others still run
    err = capsys.readouterr().err
    assert "bench_fake_bad FAILED" in err and "benchmark(s) failed: bench_fake_bad" in err
    assert run.main(["--smoke", "--output", str(output), "--only", "fake_ok"]) == 0
    assert "bench_fake_bad" not in output.read_text()
    with pytest.raises(SystemExit):
        run.main(["--only", "no_such_benchmark"])


def test_runner_keeps_the_hand_written_tail(tmp_path, monkeypatch):
    import run

    monkeypatch.setitem(sys.modules, "bench_fake_ok",
                        types.SimpleNamespace(run=lambda smoke: "## Fake ok"))
    monkeypatch.setattr(run, "bench_names", lambda: ["bench_fake_ok"])
    monkeypatch.setattr(run, "machine_report", lambda smoke: "| machine |")
    output = tmp_path / "R.md"
    output.write_text(f"# old run\n\n## Old section\n\n{run.KEPT}\n\n## Notes\n\nby hand\n")
    assert run.main(["--smoke", "--output", str(output)]) == 0
    text = output.read_text()
    assert "## Old section" not in text and "## Fake ok" in text
    assert text.endswith(f"{run.KEPT}\n\n## Notes\n\nby hand\n"), text
    assert run.main(["--smoke", "--output", str(output)]) == 0
    assert output.read_text().count(run.KEPT) == 1


@pytest.mark.slow
def test_runner_smoke_writes_every_section(tmp_path):
    output = tmp_path / "R.md"
    done = subprocess.run([sys.executable, "benchmarks/run.py", "--smoke", "--output",
                           str(output)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    text = output.read_text()
    assert "## Machine" in text and "GFLOP/s" in text and "GB/s" in text
    assert "FAILED" not in text
    modules = sorted(p.stem for p in BENCH.glob("bench_*.py"))
    assert "bench_engine" in modules
    for name in modules:  # each module's section follows its marker and starts with a heading
        after = text.split(f"<!-- {name} -->\n", 1)
        assert len(after) == 2 and after[1].startswith("## "), name
    for heading in ["## Engine", "### Offline", "### Streaming", "### Chunk-size-1 streaming",
                    "### Seed kernels", "## Neural Amp Modeler (standard preset)"]:
        assert heading in text, heading
    assert str(tmp_path) not in text  # no absolute machine path in the report
