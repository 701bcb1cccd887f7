"""Plots: non-trivial PNGs, one return type (the Figure), the ax=/fig= pattern, pyplot
registration only when pyplot is in use, and time-axis labels and scales."""

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.image  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from wavedil.plot import (  # noqa: E402
    plot_cwt,
    plot_effective_receptive_field,
    plot_mra,
    plot_scalogram,
)
from wavedil.receptive.field import receptive_field  # noqa: E402
from wavedil.receptive.probe import EffectiveReceptiveField  # noqa: E402
from wavedil.wavelets.cwt import cwt  # noqa: E402
from wavedil.wavelets.transform import atrous, mra  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_real_png(path, min_bytes=10_000):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > min_bytes
    pixels = matplotlib.image.imread(path)
    assert pixels.std() > 0.05  # not a blank canvas


def chirp(n=50_000):
    t = np.linspace(0, 1, n)
    return np.sin(2 * np.pi * (5 + 2000 * t) * t) * np.exp(-3 * t)


def a_profile():
    """An ERF-like bump over lags -20..20 (the probe needs torch; the plot does not)."""
    lags = np.arange(-20, 21)
    return EffectiveReceptiveField(lags, np.exp(-0.5 * (lags / 4.0) ** 2), 100, 100)


def all_plots(**where):
    """Each plot function once, on ``where`` (ax=/fig=, or nothing: a new figure)."""
    result = atrous(chirp(3000), "db2", 4)
    rf = receptive_field(kernel_size=3, dilations=[1, 2, 4, 8])
    mra_where = {k: v for k, v in where.items() if k != "ax"}
    return {"scalogram": plot_scalogram(result, **where),
            "mra": plot_mra(mra(chirp(3000), "haar", 3), **mra_where),
            "erf": plot_effective_receptive_field(a_profile(), rf, **where),
            "cwt": plot_cwt(cwt(chirp(3000), octaves=5, voices=4), **where)}


@pytest.fixture
def pyplot():
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    yield plt
    for number in set(plt.get_fignums()) - before:
        plt.close(number)


@pytest.mark.parametrize("length", [300, 50_000])
def test_scalogram_png(tmp_path, length):
    result = atrous(chirp()[:length], "db4", 6, alignment="centered", boundary="symmetric")
    fig = plot_scalogram(result, sample_rate=8000)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == \
        ["w1", "w2", "w3", "w4", "w5", "w6", "c6"]
    assert len(fig.axes) == 2  # the image and its colorbar
    fig.savefig(tmp_path / "scalogram.png", dpi=80)
    assert_real_png(tmp_path / "scalogram.png")


@pytest.mark.parametrize("decimate", [False, True])
@pytest.mark.parametrize("length", [300, 50_000])
def test_cwt_png_with_its_cone_of_influence(tmp_path, length, decimate):
    result = cwt(chirp()[:length], octaves=6, voices=8, sample_rate=8000, decimate=decimate)
    fig = plot_cwt(result)
    ax = fig.axes[0]
    assert len(fig.axes) == 2 and ax.get_yscale() == "log"
    assert ax.get_ylabel() == "frequency (Hz)" and ax.get_xlabel() == "time (s)"
    low, high = sorted(ax.get_ylim())
    assert low < result.frequencies.min() < result.frequencies.max() < high < 4000
    assert ax.get_xlim()[1] == pytest.approx(length / 8000)
    assert len(ax.collections) == 3  # the image and the two sides of the cone
    fig.savefig(tmp_path / "cwt.png", dpi=80)
    assert_real_png(tmp_path / "cwt.png")


@pytest.mark.parametrize("length", [300, 50_000])
def test_mra_png(tmp_path, length):
    parts = mra(chirp()[:length], "starlet", 5, alignment="centered")
    fig = plot_mra(parts, sample_rate=8000, title="chirp")
    assert len(fig.axes) == 6 and fig.axes[-1].get_ylabel() == "S5"
    fig.savefig(tmp_path / "mra.png", dpi=80)
    assert_real_png(tmp_path / "mra.png")


def test_effective_receptive_field_png(tmp_path):
    rf = receptive_field(kernel_size=3, dilations=[1, 2, 4, 8], alignment="centered")
    fig = plot_effective_receptive_field(a_profile(), rf, log=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_xlabel().startswith("lag (samples")
    assert [p.get_x() for p in ax.patches][:1] == [-rf.left]  # the analytic extent shaded
    fig.savefig(tmp_path / "erf.png", dpi=80)
    assert_real_png(tmp_path / "erf.png", min_bytes=5_000)


WITHOUT_PYPLOT = """
import io, sys
import numpy as np
from matplotlib.figure import Figure
from wavedil.plot import plot_cwt, plot_effective_receptive_field, plot_mra, plot_scalogram
from wavedil.receptive.field import receptive_field
from wavedil.receptive.probe import EffectiveReceptiveField
from wavedil.wavelets.cwt import cwt
from wavedil.wavelets.transform import atrous, mra

x = np.sin(np.arange(3000) ** 2 / 3000)
lags = np.arange(-5, 6)
figures = [plot_scalogram(atrous(x, "db2", 4)), plot_mra(mra(x, "haar", 3)),
           plot_cwt(cwt(x, octaves=4, voices=4)),
           plot_effective_receptive_field(EffectiveReceptiveField(lags, 1.0 / (1 + lags**2),
                                                                  50, 50),
                                          receptive_field(kernel_size=3, dilations=[1, 2]))]
assert "matplotlib.pyplot" not in sys.modules, "a plot imported pyplot"
for fig in figures:
    assert type(fig) is Figure, type(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue()[:8] == bytes.fromhex("89504e470d0a1a0a")
print("ok")
"""


def test_every_plot_returns_a_new_unregistered_figure_without_pyplot():
    """In a fresh interpreter (no pyplot, no backend chosen): plain Figures that render."""
    run = subprocess.run([sys.executable, "-c", WITHOUT_PYPLOT], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


def test_every_plot_registers_its_figure_when_pyplot_is_in_use(pyplot, tmp_path):
    before = set(pyplot.get_fignums())
    figures = all_plots()
    numbers = set(pyplot.get_fignums()) - before
    assert numbers == {fig.number for fig in figures.values()} and len(numbers) == 4
    assert pyplot.gcf() is figures["cwt"]  # the last one is current: plt.savefig writes it
    pyplot.savefig(tmp_path / "current.png")
    assert (tmp_path / "current.png").read_bytes().startswith(PNG_SIGNATURE)


def test_given_ax_or_fig_is_drawn_on_and_nothing_is_registered(pyplot):
    before = set(pyplot.get_fignums())
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_scalogram(atrous(chirp(1000), "haar", 3), ax=ax) is fig
    assert len(ax.images) == 1 and fig.axes[0] is ax
    ax = Figure().add_subplot()
    assert plot_effective_receptive_field(a_profile(), ax=ax) is ax.figure
    assert len(ax.lines) == 1
    for name, drawn in all_plots(fig=Figure()).items():
        assert drawn.axes, name
    sub = Figure().subfigures(1, 2)
    assert plot_mra(mra(chirp(1000), "haar", 2), fig=sub[0]) is sub[0]
    assert len(sub[0].axes) == 3
    assert plot_scalogram(atrous(chirp(1000), "haar", 2), ax=sub[1].add_subplot()) is sub[1]
    assert set(pyplot.get_fignums()) == before


def test_picks_a_signal_of_a_batch():
    batch = np.stack([chirp(4000), np.zeros(4000)])
    fig = plot_mra(mra(batch, "haar", 4), signal=1)
    assert all(np.all(line.get_ydata() == 0) for ax in fig.axes for line in ax.lines)
    with pytest.raises(ValueError, match="one of the 2 signals"):
        plot_scalogram(atrous(batch, "haar", 4), signal=2)


def test_time_axis_labels_and_scale():
    x = chirp(1000)
    result, parts = atrous(x, "haar", 3), mra(x, "haar", 3)
    cases = [({}, "sample", 1000), ({"sample_rate": 8000}, "time (s)", 1000 / 8000),
             ({"sample_rate": 8000, "time_unit": "ms"}, "time (ms)", 1000 / 8),
             ({"sample_rate": 48000, "time_unit": "min"}, "time (min)", 1000 / 48000 / 60),
             ({"sample_rate": 4, "time_unit": ("year", 1.0)}, "time (year)", 1000 / 4),
             ({"sample_rate": 4, "time_unit": ("decade", 10)}, "time (decade)", 1000 / 40)]
    for options, label, span in cases:
        ax = plot_scalogram(result, **options).axes[0]
        assert ax.get_xlabel() == label
        assert ax.images[0].get_extent()[:2] == pytest.approx([0, span])
        ax = plot_mra(parts, **options).axes[-1]
        assert ax.get_xlabel() == label
        assert ax.lines[0].get_xdata()[-1] == pytest.approx(999 / 1000 * span)
    erf = plot_effective_receptive_field(a_profile(), sample_rate=1000, time_unit="ms")
    assert erf.axes[0].get_xlabel().startswith("lag (ms")
    assert erf.axes[0].lines[0].get_xdata()[0] == pytest.approx(-20)


def test_refuses_what_it_cannot_draw():
    result = atrous(chirp(100), "haar", 2)
    with pytest.raises(ValueError, match="empty signal"):
        plot_scalogram(atrous(np.zeros(0), "haar", 2))
    with pytest.raises(ValueError, match=r"\(levels \+ 1, \.\.\., T\)"):
        plot_mra(np.zeros((1, 10)))
    with pytest.raises(ValueError, match="labels must name the 3 components"):
        plot_mra(np.zeros((3, 10)), labels=["a"])
    fig = Figure()
    with pytest.raises(ValueError, match="not both"):
        plot_scalogram(result, ax=fig.add_subplot(), fig=fig)
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes, got Figure; pass a "
                                        "Figure as fig="):
        plot_scalogram(result, ax=fig)
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure or SubFigure, got "
                                        "Axes; pass an Axes as ax="):
        plot_mra(np.zeros((3, 10)), fig=fig.add_subplot())
    with pytest.raises(ValueError, match="time_unit='ms' needs sample_rate="):
        plot_scalogram(result, time_unit="ms")
    with pytest.raises(ValueError, match=r"one of ms, s, min, h or a \(label, seconds\)"):
        plot_mra(np.zeros((3, 10)), sample_rate=10, time_unit="days")
    with pytest.raises(ValueError, match="sample_rate must be a positive number, got 0"):
        plot_mra(np.zeros((3, 10)), sample_rate=0)
    with pytest.raises(TypeError, match=r"rf must be a ReceptiveField .*\.savefig\(path\)"):
        plot_effective_receptive_field(a_profile(), "erf.png")
