"""wavedil: the dilated ("à trous") convolution for audio and time series.

The package is laid out in rooms that follow the data (nothing imports upward)::

    seed          the seed formula, N-D dilate_kernel / dilated_convolve / dilated_correlate
    engine/       layer specs, histories, the streaming contract, the dilated conv, the
                  fused model runtime, memory, compiled loops
    receptive/    extents and halos from the engine's specs, planning, probes, torch traces
    wavelets/     filter banks, the à trous transform, its streams, denoising
    models/       numpy TCN / WaveNet / Stack, their file format, threads for long calls
    nn/           the torch twins (the ``torch`` extra), export
    io, cli, plot, dask    files, the ``wavedil`` command, figures, Dask

This module holds the public API only (``__all__``); the rooms hold the rest.
"""

from .engine import (
    Branches,
    Chain,
    DilatedConv1d,
    LayerSpec,
    Stream,
    conv1d,
    dilation_schedule,
    nonfinite,
    run_stream,
)
from .models import NAM, TCN, Stack, WaveNet, load
from .receptive import (
    Plan,
    ReceptiveField,
    effective_receptive_field,
    halo,
    plan_dilations,
    probe_receptive_field,
    receptive_field,
    specs_from_schedule,
)
from .seed import dilate_kernel, dilated_convolve, dilated_correlate
from .version import __version__
from .wavelets import (
    CWT,
    AtrousResult,
    AtrousStream,
    AtrousTransform,
    ContinuousWavelet,
    CWTResult,
    CWTStream,
    DecimatedCWTStream,
    Denoiser,
    DenoiseStream,
    FilterBank,
    InverseAtrousStream,
    Resynthesis,
    ResynthesisStream,
    atrous,
    cwt,
    denoise,
    filter_bank,
    iatrous,
    imodwt,
    level_energies,
    max_level,
    modwt,
    modwtmra,
    mra,
    noise_gain,
    wavelist,
)

__all__ = [
    "__version__",
    # the seed formula
    "dilate_kernel",
    "dilated_convolve",
    "dilated_correlate",
    # the engine
    "DilatedConv1d",
    "conv1d",
    "Stream",
    "run_stream",
    "LayerSpec",
    "Chain",
    "Branches",
    "dilation_schedule",
    "nonfinite",
    # wavelets
    "atrous",
    "iatrous",
    "mra",
    "AtrousResult",
    "AtrousTransform",
    "AtrousStream",
    "InverseAtrousStream",
    "denoise",
    "Denoiser",
    "DenoiseStream",
    "Resynthesis",
    "ResynthesisStream",
    "FilterBank",
    "filter_bank",
    "noise_gain",
    "wavelist",
    "level_energies",
    "max_level",
    "modwt",
    "imodwt",
    "modwtmra",
    "cwt",
    "CWT",
    "CWTStream",
    "DecimatedCWTStream",
    "CWTResult",
    "ContinuousWavelet",
    # models
    "TCN",
    "WaveNet",
    "Stack",
    "NAM",
    "load",
    # receptive fields
    "receptive_field",
    "ReceptiveField",
    "specs_from_schedule",
    "halo",
    "plan_dilations",
    "Plan",
    "probe_receptive_field",
    "effective_receptive_field",
]
