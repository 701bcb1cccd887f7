"""``import wavedil`` stays light: the heavy optional parts load only when used."""

import subprocess
import sys

import pytest

LIGHT_MODULES = ", ".join([
    "wavedil", "wavedil.wavelets.transform", "wavedil.wavelets.streams", "wavedil.engine.conv",
    "wavedil.engine.depthwise", "wavedil.wavelets.denoise", "wavedil.wavelets.denoise_stream",
    "wavedil.receptive.field", "wavedil.receptive.planning", "wavedil.receptive.probe",
    "wavedil.cli", "wavedil.receptive.torch_trace", "wavedil.models.tcn", "wavedil.plot",
])


@pytest.mark.parametrize("heavy", ["torch", "numba", "matplotlib", "dask"])
@pytest.mark.slow
def test_importing_wavedil_does_not_import(heavy):
    code = f"import sys, {LIGHT_MODULES}; assert {heavy!r} not in sys.modules, {heavy!r}"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
