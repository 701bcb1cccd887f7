"""Plots render to non-trivial PNGs (Agg, no pyplot state), and reject what they cannot draw."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.image  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from wavedil.plot import plot_mra, plot_scalogram  # noqa: E402
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


@pytest.mark.parametrize("length", [300, 50_000])
def test_scalogram_png(tmp_path, length):
    result = atrous(chirp()[:length], "db4", 6, alignment="centered", boundary="symmetric")
    ax = plot_scalogram(result, sample_rate=8000)
    assert [t.get_text() for t in ax.get_yticklabels()] == \
        ["w1", "w2", "w3", "w4", "w5", "w6", "c6"]
    ax.figure.savefig(tmp_path / "scalogram.png", dpi=80)
    assert_real_png(tmp_path / "scalogram.png")


@pytest.mark.parametrize("length", [300, 50_000])
def test_mra_png(tmp_path, length):
    parts = mra(chirp()[:length], "starlet", 5, alignment="centered")
    fig = plot_mra(parts, sample_rate=8000, title="chirp")
    assert len(fig.axes) == 6 and fig.axes[-1].get_ylabel() == "S5"
    fig.savefig(tmp_path / "mra.png", dpi=80)
    assert_real_png(tmp_path / "mra.png")


def test_draws_on_given_axes_and_picks_a_signal_of_a_batch(tmp_path):
    batch = np.stack([chirp(4000), np.zeros(4000)])
    result = atrous(batch, "haar", 4)
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_scalogram(result, ax=ax, signal=0, log=False) is ax
    other = Figure()
    assert plot_mra(mra(batch, "haar", 4), fig=other, signal=1) is other
    with pytest.raises(ValueError, match="one of the 2 signals"):
        plot_scalogram(result, signal=2)


def test_refuses_empty_or_flat_input():
    with pytest.raises(ValueError, match="empty signal"):
        plot_scalogram(atrous(np.zeros(0), "haar", 2))
    with pytest.raises(ValueError, match=r"\(levels \+ 1, \.\.\., T\)"):
        plot_mra(np.zeros((1, 10)))
    with pytest.raises(ValueError, match="labels must name the 3 components"):
        plot_mra(np.zeros((3, 10)), labels=["a"])
