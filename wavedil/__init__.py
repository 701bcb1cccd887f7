"""wavedil: the dilated ("à trous") convolution for audio and time series.

Modules, in the order the data flows (see DESIGN.md in the project notes):

- ``kernels``: the seed formula, N-D ``dilate_kernel`` / ``dilated_convolve`` /
  ``dilated_correlate``.
- ``spec``: ``LayerSpec`` and dilation schedules, the integers receptive fields come from.
- ``buffer``: ``History``, the stream histories (no re-copying per chunk).
- ``stream``: the streaming contract shared by every streamable operator.
- ``conv``: ``DilatedConv1d`` (numpy), its stream and the functional ``conv1d``.
- ``depthwise``: the engine's depthwise path (one filter per channel), compiled with numba.
- ``wavelets``: filter banks (starlet, linear spline, Haar, db, sym, coif, user filters).
- ``atrous``: the à trous transform ``atrous`` / ``iatrous`` / ``mra`` on the engine.
- ``recycle``: large outputs recycled from earlier calls once nothing refers to them.
- ``atrous_stream``: its streams (forward, inverse, denoiser) and operator forms.
- ``denoise``: noise estimates, thresholds (Bayes, SURE, universal), ``denoise``.
- ``activations``: the numpy models' activations.
- ``model``: what the numpy models share (parameters, casts, the model stream).
- ``fused``: the time-major chain of dilated convs that a ``TCN`` stream runs.
- ``tcn`` / ``wavenet`` / ``stack``: numpy ``TCN``, ``WaveNet`` and the generic ``Stack``
  with their streams (no torch); ``wavedil.stack`` re-exports all three.
- ``modelfile``: the ``.npz`` model format; ``load`` gives the numpy model.
- ``receptive``: extents, gaps, per-layer tables and halos from spec trees.
- ``planning``: ``plan_dilations``, gap-free dilation schedules.
- ``probe``: empirical receptive fields (impulse or gradient support), effective RF.
- ``torch_trace``: spec trees of any ``torch.nn.Module`` (imported on demand).
- ``cli``: the ``wavedil`` command (``filter``, ``denoise``, ``rf``, ``plan``).
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
from .planning import Candidate, Plan, plan_dilations
from .probe import effective_receptive_field, plot_effective_receptive_field, probe_receptive_field
from .receptive import ReceptiveField, halo, receptive_field, specs_from_schedule
from .spec import Branches, Chain, LayerSpec, Shift, dilation_schedule, resolve_alignment
from .stack import Stack
from .stream import Stream, run_stream
from .tcn import TCN
from .wavelets import FilterBank, filter_bank, noise_gain, wavelist
from .wavenet import WaveNet

__version__ = "0.1.0"

__all__ = [
    "atrous",
    "AtrousResult",
    "AtrousStream",
    "AtrousTransform",
    "Branches",
    "Candidate",
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
    "effective_receptive_field",
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
    "Plan",
    "plan_dilations",
    "plot_effective_receptive_field",
    "probe_receptive_field",
    "receptive_field",
    "ReceptiveField",
    "resolve_alignment",
    "run_stream",
    "Shift",
    "specs_from_schedule",
    "Stack",
    "Stream",
    "TCN",
    "wavelist",
    "WaveNet",
]
