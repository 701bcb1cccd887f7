"""Plots for wavedil results (matplotlib, the ``wavedil[plot]`` extra, imported lazily).

- ``plot_scalogram(result)``: the magnitude of every level of an ``AtrousResult``, finest
  level on top, as an image over time.
- ``plot_cwt(result)``: the magnitude of a ``CWTResult`` (``wavedil.cwt``) over time and a
  logarithmic frequency axis, with its cone of influence shaded.
- ``plot_mra(components)``: the MRA components (``wavedil.mra``) one above another.
- ``plot_effective_receptive_field(erf, rf)``: an effective receptive field
  (``wavedil.effective_receptive_field``), with the analytic extent of ``rf`` shaded.

Where they draw (the same rule for every function):

- ``ax=`` (the one-Axes plots: scalograms, effective receptive field): on that Axes.
- ``fig=`` (every function): on that Figure or SubFigure, in new Axes (the MRA adds one
  per component, so give it an empty one). Not both.
- neither: on a new Figure. If ``matplotlib.pyplot`` is imported (by your script, IPython's
  ``%matplotlib``, seaborn, ...) it comes from ``plt.figure()``, registered with pyplot:
  ``plt.show()``, ``plt.savefig`` and notebooks see it, ``plt.close(fig)`` frees it.
  Otherwise it is a plain ``matplotlib.figure.Figure``: no backend, no GUI, no global state,
  and ``fig.savefig(path)`` renders with Agg. wavedil never imports pyplot itself, nor
  changes the backend.

What they return: always the Figure (or SubFigure, for an ``ax``/``fig`` inside one) they
drew on; the Axes are ``fig.axes`` (on a new figure the plot's own Axes come first, then a
colorbar's). One type for every function because the plots hold different numbers of Axes
(one per MRA component; the scalogram's image and colorbar): a Figure holds any of them and
is what ``savefig`` and ``show`` act on. (seaborn returns an Axes from its one-Axes
functions and a grid from the others, so the type would depend on the function.)

Time axis: in samples (label ``"sample"``) without ``sample_rate``; with it, in seconds
(``"time (s)"``), or in ``time_unit``: ``"ms"``, ``"s"``, ``"min"``, ``"h"``, or a
``(label, seconds)`` pair for anything else, e.g. ``("year", 1.0)`` with ``sample_rate=4``
for a quarterly series. Long signals are drawn as per-pixel envelopes (min and max, or max
of the magnitude, over bins of samples), so a million samples plot as fast as a thousand.

Shape: 1-D signals; of a batch, ``signal`` picks one (index into the flattened leading
axes, time last).
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt

from .receptive.field import ReceptiveField
from .receptive.probe import EffectiveReceptiveField

if TYPE_CHECKING:  # annotations only: the import graph stays as it was
    from .wavelets.cwt import CWTResult
    from .wavelets.transform import AtrousResult

MAX_COLUMNS = 2000  # bins across the time axis for long signals
TIME_UNITS = {"ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}  # name: seconds

TimeUnit: TypeAlias = "str | tuple[str, float] | None"


# -- where to draw ----------------------------------------------------------------------


def _new_figure(figsize: tuple[float, float]) -> Any:
    """A pyplot figure when pyplot is in use, else a plain Figure (see the module doc)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        return pyplot.figure(figsize=figsize, layout="constrained")
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _check_fig(fig: Any) -> Any:
    from matplotlib.figure import FigureBase

    if not isinstance(fig, FigureBase):
        raise TypeError(f"fig must be a matplotlib Figure or SubFigure, got "
                        f"{type(fig).__name__}" + ("; pass an Axes as ax="
                                                   if hasattr(fig, "plot") else ""))
    return fig


def _target_axes(ax: Any, fig: Any, figsize: tuple[float, float]) -> Any:
    """The Axes a one-Axes plot draws on: ``ax``, a new one in ``fig``, or a new figure's."""
    if ax is not None and fig is not None:
        raise ValueError("give ax= (draw on that Axes) or fig= (add an Axes to that figure), "
                         "not both")
    if ax is not None:
        from matplotlib.axes import Axes

        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}"
                            + ("; pass a Figure as fig=" if hasattr(ax, "savefig") else ""))
        return ax
    return (_new_figure(figsize) if fig is None else _check_fig(fig)).add_subplot()


# -- the time axis ------------------------------------------------------------------------


def _time_scale(sample_rate: float | None, time_unit: TimeUnit) -> tuple[float, str | None]:
    """Samples per unit of the time axis and the unit's name (``None``: samples)."""
    if sample_rate is None:
        if time_unit is not None:
            raise ValueError(f"time_unit={time_unit!r} needs sample_rate= (samples per "
                             f"second) to turn samples into time")
        return 1.0, None
    if (not isinstance(sample_rate, numbers.Real) or isinstance(sample_rate, bool)
            or not math.isfinite(sample_rate) or not sample_rate > 0):
        raise ValueError(f"sample_rate must be a positive number, got {sample_rate!r}")
    if time_unit is None:
        time_unit = "s"
    if isinstance(time_unit, str):
        if time_unit not in TIME_UNITS:
            raise ValueError(f"time_unit must be one of {', '.join(TIME_UNITS)} or a "
                             f"(label, seconds) pair such as ('year', 1.0), got {time_unit!r}")
        name, seconds = time_unit, TIME_UNITS[time_unit]
    else:
        try:
            name, seconds = time_unit
        except (TypeError, ValueError):
            raise TypeError(f"time_unit must be a name or a (label, seconds) pair, got "
                            f"{time_unit!r}") from None
        if (not isinstance(name, str) or not isinstance(seconds, numbers.Real)
                or not math.isfinite(seconds) or not seconds > 0):
            raise ValueError(f"time_unit as a pair must be (label, seconds > 0), got "
                             f"{time_unit!r}")
    return float(sample_rate) * float(seconds), name


def _time_label(unit: str | None) -> str:
    return "sample" if unit is None else f"time ({unit})"


# -- binning ------------------------------------------------------------------------------


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


# -- the plots ----------------------------------------------------------------------------


def plot_scalogram(result: AtrousResult, sample_rate: float | None = None, *,
                   time_unit: TimeUnit = None, ax: Any = None, fig: Any = None,
                   signal: int = 0, log: bool = True, cmap: str = "magma",
                   title: str | None = None) -> Any:
    """The magnitude ``|w_j|`` of every level (and ``|c_J|``) of ``result`` over time.

    Rows from the top: ``w1`` (finest) ... ``wJ``, then ``cJ``. Each pixel is the largest
    magnitude in its time bin; ``log`` shows it in dB (20 log10, relative to the largest).

    Args:
        result: a ``wavedil.wavelets.transform.AtrousResult`` (time on its ``axis``).
        sample_rate, time_unit: the time axis (see the module docstring).
        ax, fig: where to draw (see the module docstring).
        signal: which signal of a batch.

    Returns the Figure drawn on (the image's Axes, then the colorbar's, in ``fig.axes``).
    """
    scale, unit = _time_scale(sample_rate, time_unit)
    stacked = np.moveaxis(result.stack(), result.axis, -1)
    rows = np.abs(_one_signal(stacked, result.levels + 1, signal, "result"))
    length = rows.shape[-1]
    image = _binned(rows, _bins(length),
                    lambda v, starts: np.maximum.reduceat(v, starts, axis=-1))
    label = "|coefficient|"
    if log:
        peak = float(image.max()) or 1.0
        image = 20 * np.log10(np.maximum(image / peak, 1e-6))
        label = "dB re. the largest"
    ax = _target_axes(ax, fig, (8, 0.35 * (result.levels + 1) + 1.6))
    extent = (0, length / scale, result.levels + 0.5, -0.5)
    shown = ax.imshow(image, aspect="auto", cmap=cmap, extent=extent, interpolation="nearest",
                      vmin=max(float(image.min()), -80) if log else None)
    names = [f"w{j}" for j in range(1, result.levels + 1)] + [f"c{result.levels}"]
    ax.set_yticks(range(result.levels + 1), names)
    ax.set_xlabel(_time_label(unit))
    ax.set_title(title or f"à trous scalogram ({result.wavelet.name}, {result.levels} "
                          f"levels, {result.alignment})")
    ax.figure.colorbar(shown, ax=ax, label=label)
    return ax.figure


def plot_cwt(result: CWTResult, sample_rate: float | None = None, *,
             time_unit: TimeUnit = None, ax: Any = None, fig: Any = None, signal: int = 0,
             log: bool = True, cone: bool = True, cmap: str = "magma",
             title: str | None = None) -> Any:
    """The magnitude ``|W|`` of every band of ``result`` over time, frequency up (log axis).

    Each pixel is the largest magnitude in its time bin (a decimated octave: of its
    columns in the bin); ``log`` shows it in dB re. the largest. ``cone`` shades the cone
    of influence: within ``result.cone`` samples of either end (after each band's delay),
    where the boundary weighs on the coefficients.

    Args:
        result: a ``wavedil.cwt`` result (time on its ``axis``).
        sample_rate, time_unit: the time axis (default ``result.sample_rate``); with a rate
            the frequencies are in Hz, else in cycles per sample.
        ax, fig: where to draw (see the module docstring).
        signal: which signal of a batch.

    Returns the Figure drawn on (the image's Axes, then the colorbar's, in ``fig.axes``).
    """
    rate = result.sample_rate if sample_rate is None else sample_rate
    scale, unit = _time_scale(rate, time_unit)
    plan, length = result.plan, result.length
    if length == 0:
        raise ValueError("cannot plot an empty signal (T = 0)")
    bins = _bins(length)
    edges = np.linspace(0, length, bins + 1).astype(int)
    rows = []
    for j in range(plan.octaves):
        block = np.moveaxis(result.octave(j), result.axis, -1)
        magnitude = _one_signal(np.abs(block), plan.voices, signal, "result")
        hop = int(result.hops[j])
        starts = np.minimum(edges[:-1] // hop, magnitude.shape[-1] - 1)
        rows.append(np.maximum.reduceat(magnitude, starts, axis=-1))
    image = np.concatenate(rows)
    label = "|W|"
    if log:
        peak = float(image.max()) or 1.0
        image = 20 * np.log10(np.maximum(image / peak, 1e-6))
        label = "dB re. the largest"
    frequencies = result.plan.frequencies(rate)
    ratio = 2.0 ** (1 / (2 * plan.voices))  # band edges halfway between centres (log)
    freq_edges = np.concatenate([frequencies * ratio, frequencies[-1:] / ratio])
    ax = _target_axes(ax, fig, (8, 4))
    shown = ax.pcolormesh(edges / scale, freq_edges, image, cmap=cmap, shading="flat",
                          vmin=max(float(image.min()), -80) if log else None)
    ax.set_yscale("log")
    ax.set_ylim(freq_edges[-1], freq_edges[0])
    if cone:
        delays, reach = plan.delays.astype(float), plan.cone
        left = np.clip(delays + reach, 0, length) / scale
        right = np.clip(length - 1 + delays - reach, 0, length) / scale
        right = np.maximum(right, left)
        style = dict(facecolor="white", alpha=0.5, hatch="//", edgecolor="0.3",
                     linewidth=0, step="mid")
        ax.fill_betweenx(frequencies, 0, left, **style)
        ax.fill_betweenx(frequencies, right, length / scale, label="cone of influence",
                         **style)
        for side in (left, right):
            ax.plot(side, frequencies, color="white", linewidth=1, linestyle="--")
    ax.set_xlabel(_time_label(unit))
    ax.set_ylabel("frequency (Hz)" if rate is not None else "frequency (cycles / sample)")
    ax.set_title(title or f"CWT scalogram ({plan.wavelet.name}, {plan.octaves} octaves x "
                          f"{plan.voices} voices, {plan.alignment})")
    ax.figure.colorbar(shown, ax=ax, label=label)
    return ax.figure


def plot_mra(components: npt.ArrayLike, sample_rate: float | None = None, *,
             time_unit: TimeUnit = None, fig: Any = None, signal: int = 0,
             labels: Sequence[str] | None = None, title: str | None = None) -> Any:
    """The MRA components one above another (details finest first, then the smooth).

    Args:
        components: ``(levels + 1, ..., T)`` from ``wavedil.mra`` (time last).
        sample_rate, time_unit: the time axis (see the module docstring).
        fig: an empty Figure or SubFigure to draw on (default: a new figure).
        signal: which signal of a batch.
        labels: one name per component (default ``D1 .. DJ, SJ``).

    Returns the Figure drawn on, with one Axes per component in ``fig.axes``.
    """
    scale, unit = _time_scale(sample_rate, time_unit)
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
    fig = _new_figure((8, 0.9 * count + 1.2)) if fig is None else _check_fig(fig)
    axes = fig.subplots(count, 1, sharex=True, squeeze=False)[:, 0]
    bins = _bins(length)
    envelope = length > bins
    times = ((np.arange(bins) + 0.5) * (length / bins) if envelope
             else np.arange(length)) / scale
    for ax, row, label in zip(axes, rows, labels):
        if envelope:  # min and max of every bin
            low = _binned(row, bins, lambda v, s: np.minimum.reduceat(v, s))
            high = _binned(row, bins, lambda v, s: np.maximum.reduceat(v, s))
            ax.fill_between(times, low, high, linewidth=0.5, color="C0")
        else:
            ax.plot(times, row, linewidth=0.8, color="C0")
        ax.set_ylabel(label, rotation=0, labelpad=14, va="center")
        ax.margins(x=0)
    axes[-1].set_xlabel(_time_label(unit))
    if title:
        fig.suptitle(title)
    return fig


def plot_effective_receptive_field(erf: EffectiveReceptiveField,
                                   rf: ReceptiveField | None = None, *,
                                   sample_rate: float | None = None,
                                   time_unit: TimeUnit = None, ax: Any = None,
                                   fig: Any = None, mass: float = 0.95,
                                   title: str | None = None, log: bool = False) -> Any:
    """The profile of ``erf`` over lags, the lags holding ``mass`` of it shaded, and the
    analytic extent of ``rf`` (a ``ReceptiveField``) behind it.

    Args:
        sample_rate, time_unit: lags in time instead of samples (see the module docstring).
        ax, fig: where to draw (see the module docstring).
        log: a logarithmic magnitude axis.

    Returns the Figure drawn on (write it with ``fig.savefig(path)``).
    """
    if rf is not None and not isinstance(rf, ReceptiveField):
        raise TypeError(f"rf must be a ReceptiveField (wavedil.receptive_field(model)), got "
                        f"{type(rf).__name__}; to write a file: "
                        f"plot_effective_receptive_field(erf, rf).savefig(path)")
    scale, unit = _time_scale(sample_rate, time_unit)
    ax = _target_axes(ax, fig, (8, 3.2))
    if rf is not None:
        ax.axvspan(-rf.left / scale, rf.right / scale, color="0.9",
                   label=f"receptive field ({rf.size} samples)")
    lo, hi = erf.mass_interval(mass)
    ax.axvspan(lo / scale, hi / scale, color="tab:orange", alpha=0.25,
               label=f"{mass:.0%} of the gradient ({hi - lo + 1} samples)")
    ax.plot(np.asarray(erf.lags) / scale, erf.profile, color="tab:blue", lw=1,
            label="mean |gradient|")
    ax.set_xlabel(f"lag ({'samples' if unit is None else unit}; 0 = the output's own time)")
    ax.set_ylabel("normalised |d out / d in|")
    if log:
        ax.set_yscale("log")
    ax.set_title(title or "effective receptive field")
    ax.legend(loc="upper left", fontsize=8)
    return ax.figure
