"""wavedil: the dilated ("à trous") convolution for audio and time series.

Modules, in the order the data flows (see DESIGN.md in the project notes):

- ``kernels``: the seed formula, N-D ``dilate_kernel`` / ``dilated_convolve`` /
  ``dilated_correlate``.
- ``spec``: ``LayerSpec`` and dilation schedules, the integers receptive fields come from.
- ``buffer``: ``History``, the stream histories (no re-copying per chunk).
- ``stream``: the streaming contract shared by every streamable operator.
- ``conv``: ``DilatedConv1d`` (numpy), its stream and the functional ``conv1d``.
- ``wavelets``: filter banks (starlet, linear spline, Haar, db, sym, coif, user filters).
- ``io``: block-wise audio files, ``filter_file`` with atomic writes.
- ``dask``: ``wavedil.dask.apply``, block-wise processing with halos (imported on demand).
"""

from .buffer import History
from .conv import ConvStream, DilatedConv1d, conv1d
from .kernels import dilate_kernel, dilated_convolve, dilated_correlate
from .spec import Branches, Chain, LayerSpec, dilation_schedule, resolve_alignment
from .stream import Stream, run_stream
from .wavelets import FilterBank, filter_bank, noise_gain, wavelist

__version__ = "0.1.0"

__all__ = [
    "Branches",
    "Chain",
    "FilterBank",
    "ConvStream",
    "DilatedConv1d",
    "History",
    "LayerSpec",
    "Stream",
    "conv1d",
    "dilate_kernel",
    "dilated_convolve",
    "dilated_correlate",
    "dilation_schedule",
    "filter_bank",
    "noise_gain",
    "resolve_alignment",
    "run_stream",
    "wavelist",
]
