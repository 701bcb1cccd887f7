"""Plots for wavedil results (matplotlib, the ``wavedil[plot]`` extra, imported lazily).

Every function draws on the ``ax`` (or figure) it is given, or on a new
``matplotlib.figure.Figure`` that is not registered with pyplot (so no GUI backend or
global state is involved; ``fig.savefig(path)`` renders with Agg), and returns what it
drew on. Long signals are drawn as per-pixel envelopes (min and max, or max of the
magnitude, over bins of samples), so a million samples plot as fast as a thousand.

- ``plot_scalogram(result)``: the magnitude of every level of an ``AtrousResult``, finest
  level on top, as an image over time.
- ``plot_mra(components)``: the MRA components (``wavedil.mra``) one above another.
- ``plot_effective_receptive_field(erf, path)``: an effective receptive field
  (``wavedil.effective_receptive_field``) as a PNG, with the analytic extent shaded.

Shape: 1-D signals; of a batch, ``signal`` picks one (index into the flattened leading
axes, time last).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .receptive.probe import EffectiveReceptiveField

if TYPE_CHECKING:  # annotations only: the import graph stays as it was
    from .receptive.field import ReceptiveField
    from .wavelets.transform import AtrousResult

MAX_COLUMNS = 2000  # bins across the time axis for long signals


def _figure(figsize):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _time_axis(length: int, bins: int, sample_rate):
    """Bin centres in samples or seconds, and the axis label."""
    step = length / bins
    centres = (np.arange(bins) + 0.5) * step
    if sample_rate:
        return centres / sample_rate, "time (s)"
    return centres, "sample"


def _bins(length: int) -> int:
    return max(1, min(length, MAX_COLUMNS))


def _binned(values: np.ndarray, bins: int, reduce) -> np.ndarray:
    """``reduce`` over ``bins`` nearly equal time bins of ``values`` (time last)."""
    edges = np.linspace(0, values.shape[-1], bins + 1).astype(int)
    return reduce(values, edges[:-1])


def _one_signal(array: np.ndarray, leading: int, signal: int, what: str) -> np.ndarray:
    """``array`` ``(leading, ..., T)`` -> ``(leading, T)`` for one signal of the batch."""
    array = np.asarray(array)
    if array.shape[-1] == 0:
        raise ValueError(f"cannot plot an empty signal (T = 0), got shape {array.shape}")
    rows = array.reshape(leading, math.prod(array.shape[1:-1]), array.shape[-1])
    if not 0 <= signal < rows.shape[1]:
        raise ValueError(f"signal must index one of the {rows.shape[1]} signals of the {what} "
                         f"(shape {array.shape}), got {signal}")
    return rows[:, signal].astype(np.float64)


def plot_scalogram(result: AtrousResult, sample_rate: float | None = None, ax: Any = None,
                   signal: int = 0, log: bool = True, cmap: str = "magma") -> Any:
    """The magnitude ``|w_j|`` of every level (and ``|c_J|``) of ``result`` over time.

    Rows from the top: ``w1`` (finest) ... ``wJ``, then ``cJ``. Each pixel is the largest
    magnitude in its time bin; ``log`` shows it in dB (20 log10, relative to the largest).

    Args:
        result: a ``wavedil.wavelets.transform.AtrousResult`` (time on its ``axis``).
        sample_rate: label the time axis in seconds.
        ax: a matplotlib Axes to draw on (default: a new figure).
        signal: which signal of a batch.

    Returns the Axes.
    """
    stacked = np.moveaxis(result.stack(), result.axis, -1)
    rows = np.abs(_one_signal(stacked, result.levels + 1, signal, "result"))
    length = rows.shape[-1]
    bins = _bins(length)
    image = _binned(rows, bins, lambda v, starts: np.maximum.reduceat(v, starts, axis=-1))
    label = "|coefficient|"
    if log:
        peak = float(image.max()) or 1.0
        image = 20 * np.log10(np.maximum(image / peak, 1e-6))
        label = "dB re. the largest"
    if ax is None:
        ax = _figure((8, 0.35 * (result.levels + 1) + 1.6)).add_subplot()
    times, xlabel = _time_axis(length, bins, sample_rate)
    extent = (0, length / sample_rate if sample_rate else length, result.levels + 0.5, -0.5)
    shown = ax.imshow(image, aspect="auto", cmap=cmap, extent=extent, interpolation="nearest",
                      vmin=max(float(image.min()), -80) if log else None)
    names = [f"w{j}" for j in range(1, result.levels + 1)] + [f"c{result.levels}"]
    ax.set_yticks(range(result.levels + 1), names)
    ax.set_xlabel(xlabel)
    ax.set_title(f"à trous scalogram ({result.wavelet.name}, {result.levels} levels, "
                 f"{result.alignment})")
    ax.figure.colorbar(shown, ax=ax, label=label)
    return ax


def plot_mra(components: npt.ArrayLike, sample_rate: float | None = None, fig: Any = None,
             signal: int = 0, labels: Sequence[str] | None = None,
             title: str | None = None) -> Any:
    """The MRA components one above another (details finest first, then the smooth).

    Args:
        components: ``(levels + 1, ..., T)`` from ``wavedil.mra`` (time last).
        sample_rate: label the time axis in seconds.
        fig: a matplotlib Figure to draw on (default: a new one).
        signal: which signal of a batch.
        labels: one name per component (default ``D1 .. DJ, SJ``).

    Returns the Figure.
    """
    components = np.asarray(components)
    if components.ndim < 2 or components.shape[0] < 2:
        raise ValueError(f"components must be (levels + 1, ..., T) with levels >= 1, "
                         f"got shape {components.shape}")
    rows = _one_signal(components, components.shape[0], signal, "components")
    count, length = rows.shape
    if labels is None:
        labels = [f"D{j}" for j in range(1, count)] + [f"S{count - 1}"]
    if len(labels) != count:
        raise ValueError(f"labels must name the {count} components, got {len(labels)}")
    if fig is None:
        fig = _figure((8, 0.9 * count + 1.2))
    axes = fig.subplots(count, 1, sharex=True, squeeze=False)[:, 0]
    bins = _bins(length)
    step = math.ceil(length / bins) if length else 1
    for ax, row, label in zip(axes, rows, labels):
        if step > 1:  # an envelope: min and max of every bin
            low = _binned(row, bins, lambda v, s: np.minimum.reduceat(v, s))
            high = _binned(row, bins, lambda v, s: np.maximum.reduceat(v, s))
            times, xlabel = _time_axis(length, bins, sample_rate)
            ax.fill_between(times, low, high, linewidth=0.5, color="C0")
        else:
            times = np.arange(length) / (sample_rate or 1)
            xlabel = "time (s)" if sample_rate else "sample"
            ax.plot(times, row, linewidth=0.8, color="C0")
        ax.set_ylabel(label, rotation=0, labelpad=14, va="center")
        ax.margins(x=0)
    axes[-1].set_xlabel(xlabel)
    if title:
        fig.suptitle(title)
    return fig


def plot_effective_receptive_field(erf: EffectiveReceptiveField, path: str | os.PathLike[str],
                                   rf: ReceptiveField | None = None, mass: float = 0.95,
                                   title: str | None = None, log: bool = False) -> str:
    """Write a PNG of the profile to ``path`` (with the analytic extent of ``rf`` shaded;
    ``log=True`` for a logarithmic magnitude axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.2))
    try:
        if rf is not None:
            ax.axvspan(-rf.left, rf.right, color="0.9", label=f"receptive field ({rf.size})")
        lo, hi = erf.mass_interval(mass)
        ax.axvspan(lo, hi, color="tab:orange", alpha=0.25,
                   label=f"{mass:.0%} of the gradient ({hi - lo + 1} samples)")
        ax.plot(erf.lags, erf.profile, color="tab:blue", lw=1, label="mean |gradient|")
        ax.set_xlabel("lag (input samples, 0 = output position)")
        ax.set_ylabel("normalised |d out / d in|")
        if log:
            ax.set_yscale("log")
        ax.set_title(title or "effective receptive field")
        ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return str(path)
