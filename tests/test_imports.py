"""``import wavedil`` stays light: the heavy optional parts load only when used."""

import subprocess
import sys

import pytest

LIGHT_MODULES = ("wavedil, wavedil.atrous, wavedil.atrous_stream, wavedil.conv, "
                 "wavedil.depthwise, wavedil.denoise, wavedil.receptive, wavedil.planning, "
                 "wavedil.probe, wavedil.cli, wavedil.torch_trace, wavedil.tcn")


@pytest.mark.parametrize("heavy", ["torch", "numba", "matplotlib", "dask"])
def test_importing_wavedil_does_not_import(heavy):
    code = f"import sys, {LIGHT_MODULES}; assert {heavy!r} not in sys.modules, {heavy!r}"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
