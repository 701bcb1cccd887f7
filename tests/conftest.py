"""Shared test set-up.

In CI (environment variable ``CI`` set) a skipped test is a failure: the torch, Dask and
plotting parts must run there, never silently skip for a missing dependency.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "wavedil",
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("quick", parent=settings.get_profile("wavedil"), max_examples=8)
# make quick sets WAVEDIL_QUICK: fewer examples per property (CI runs the full profile)
settings.load_profile("quick" if os.environ.get("WAVEDIL_QUICK") else "wavedil")

IN_CI = bool(os.environ.get("CI"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"test skipped in CI (skips are failures here): {report.longrepr}"


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _close_figures():
    """Every test leaves no matplotlib figure open (examples draw and leave theirs open)."""
    yield
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
