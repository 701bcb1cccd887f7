"""The public API, written out: it changes only on purpose (edit this list with it)."""

import importlib

import pytest

API = {
    "wavedil": [
        "AtrousResult", "AtrousStream", "AtrousTransform", "Branches", "Chain", "DenoiseStream",
        "Denoiser", "DilatedConv1d", "FilterBank", "InverseAtrousStream", "LayerSpec", "Plan",
        "ReceptiveField", "Stack", "Stream", "TCN", "WaveNet", "__version__", "atrous",
        "conv1d", "denoise", "dilate_kernel", "dilated_convolve", "dilated_correlate",
        "dilation_schedule", "effective_receptive_field", "filter_bank", "halo", "iatrous",
        "level_energies", "load", "max_level", "mra", "noise_gain", "plan_dilations",
        "modwt", "imodwt", "modwtmra",
        "probe_receptive_field", "receptive_field", "run_stream", "specs_from_schedule",
        "wavelist", "Resynthesis", "ResynthesisStream",
        "cwt", "CWT", "CWTStream", "DecimatedCWTStream", "CWTResult", "ContinuousWavelet", "NAM",
        "nonfinite",
    ],
    "wavedil.nn": [
        "AlignedConv1d", "CausalConv1d", "Stack", "Streaming", "TCN", "TemporalBlock",
        "WaveNet", "WaveNetLayer",
        "export", "export_onnx", "folded_weight", "from_pytorch_tcn", "to_numpy",
    ],
}
INTERNALS = ["History", "ConvStream", "Shift", "resolve_alignment", "Candidate", "feed_stream"]


@pytest.mark.parametrize("package", sorted(API))
def test_the_public_api_is_exactly_this_list(package):
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(API[package])
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == [], f"{package}.__all__ names what it does not define: {missing}"


def test_internals_stay_in_their_rooms():
    import wavedil

    leaked = [name for name in INTERNALS if hasattr(wavedil, name)]
    assert leaked == [], f"internals at the top level: {leaked}"
    assert wavedil.engine.History is not None and wavedil.engine.ConvStream is not None


def test_import_wavedil_leaves_the_heavy_libraries_for_first_use():
    """``import wavedil`` (what the command line pays at every start) imports numpy and
    the engine, not numba, torch, dask, matplotlib or scipy.special: each is imported by
    the first call that needs it."""
    import subprocess
    import sys

    heavy = ["numba", "torch", "dask", "matplotlib", "scipy.special"]
    code = f"import sys, wavedil; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
