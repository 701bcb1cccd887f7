"""wavedil: the dilated ("à trous") convolution for audio and time series.

Modules, in the order the data flows (see DESIGN.md in the project notes):

- ``kernels``: the seed formula, N-D ``dilate_kernel`` / ``dilated_convolve`` /
  ``dilated_correlate``.
- ``spec``: ``LayerSpec`` and dilation schedules, the integers receptive fields come from.
- ``buffer``: ``History``, the stream histories (no re-copying per chunk).
- ``stream``: the streaming contract shared by every streamable operator.
- ``conv``: ``DilatedConv1d`` (numpy), its stream and the functional ``conv1d``.
- ``wavelets``: filter banks (starlet, linear spline, Haar, db, sym, coif, user filters).
- ``atrous``: the à trous transform ``atrous`` / ``iatrous`` / ``mra`` on the engine.
- ``atrous_stream``: its streams (forward, inverse, denoiser) and operator forms.
- ``denoise``: noise estimates, thresholds (Bayes, SURE, universal), ``denoise``.
- ``stack``: numpy ``TCN`` / ``WaveNet`` / ``Stack`` and their streams (no torch).
- ``modelfile``: the ``.npz`` model format; ``load`` gives the numpy model.
- ``receptive``: extents, gaps, per-layer tables and halos from spec trees.
- ``planning``: ``plan_dilations``, gap-free dilation schedules.
- ``plot``: scalograms and MRA plots (matplotlib, the ``plot`` extra; imported on demand).
- ``nn``: the torch modules (the ``torch`` extra; imported on demand).
- ``io``: block-wise audio files, ``filter_file`` with atomic writes.
- ``dask``: ``wavedil.dask.apply``, block-wise processing with halos (imported on demand).
"""

from .atrous import AtrousResult, atrous, iatrous, level_energies, max_level, mra
from .atrous_stream import (
    AtrousStream,
    AtrousTransform,
    Denoiser,
    DenoiseStream,
    InverseAtrousStream,
)
from .buffer import History
from .conv import ConvStream, DilatedConv1d, conv1d
from .denoise import denoise
from .kernels import dilate_kernel, dilated_convolve, dilated_correlate
from .modelfile import load
from .planning import plan_dilations
from .receptive import halo, receptive_field
from .spec import Branches, Chain, LayerSpec, dilation_schedule, resolve_alignment
from .stack import TCN, Stack, WaveNet
from .stream import Stream, run_stream
from .wavelets import FilterBank, filter_bank, noise_gain, wavelist

__version__ = "0.1.0"

__all__ = [
    "atrous",
    "AtrousResult",
    "AtrousStream",
    "AtrousTransform",
    "Branches",
    "Chain",
    "conv1d",
    "ConvStream",
    "denoise",
    "Denoiser",
    "DenoiseStream",
    "dilate_kernel",
    "dilated_convolve",
    "dilated_correlate",
    "DilatedConv1d",
    "dilation_schedule",
    "filter_bank",
    "FilterBank",
    "halo",
    "History",
    "iatrous",
    "InverseAtrousStream",
    "LayerSpec",
    "level_energies",
    "load",
    "max_level",
    "mra",
    "noise_gain",
    "plan_dilations",
    "receptive_field",
    "resolve_alignment",
    "run_stream",
    "Stack",
    "Stream",
    "TCN",
    "wavelist",
    "WaveNet",
]
