"""Measured receptive fields agree with the analytic ones: random numpy stacks with branches
and nonlinearities, the wavedil stacks and à trous transform, PyWavelets' SWT (an independent
implementation) and the closed form of à trous supports; the effective receptive field."""

import numpy as np
import pytest
import pywt
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from wavedil.engine.conv import DilatedConv1d
from wavedil.engine.spec import Branches, Chain
from wavedil.models.stack import TCN, WaveNet
from wavedil.plot import plot_effective_receptive_field
from wavedil.receptive.field import input_support, receptive_field
from wavedil.receptive.probe import effective_receptive_field, probe_receptive_field
from wavedil.wavelets.streams import AtrousTransform

torch.set_num_threads(2)


class Op:
    """A numpy operator built from DilatedConv1d layers, with the spec tree of its parts."""

    def __init__(self, fn, spec):
        self.fn, self.spec = fn, spec

    def __call__(self, x):
        return self.fn(x)


@st.composite
def numpy_ops(draw, depth=0):
    kind = draw(st.sampled_from(["conv", "conv", "chain", "branches"] if depth < 2
                                else ["conv"]))
    if kind == "conv":
        k, d = draw(st.integers(1, 7)), draw(st.integers(1, 6))
        span = (k - 1) * d
        left = draw(st.integers(0, span))
        seed = draw(st.integers(0, 2**16))
        rng = np.random.default_rng(seed)
        layer = DilatedConv1d(rng.standard_normal((2, 2, k)), rng.standard_normal(2), d,
                              alignment=(left, span - left))
        # nonlinear, never flat: a ReLU can be dead for every trial at a sample (tested on
        # its own) and tanh of a large value is exactly 1.0 in floating point
        act = draw(st.sampled_from([None, np.sin, lambda v: np.where(v > 0, v, 0.1 * v)]))
        fn = layer if act is None else (lambda x, layer=layer, act=act: act(layer(x)))
        return Op(fn, layer.spec)
    parts = draw(st.lists(numpy_ops(depth + 1), min_size=1, max_size=3))
    if kind == "chain":
        def chain(x, parts=parts):
            for p in parts:
                x = p(x)
            return x
        return Op(chain, Chain(tuple(p.spec for p in parts)))
    identity = draw(st.booleans())
    paths = parts + ([Op(lambda x: x, Chain(()))] if identity else [])
    return Op(lambda x, paths=paths: sum(p(x) for p in paths),
              Branches(tuple(p.spec for p in paths)))


@settings(max_examples=40)
@given(op=numpy_ops())
def test_random_numpy_stacks(op):
    rf = receptive_field(op.spec)
    length = 2 * (rf.left + rf.right) + 9
    probe = probe_receptive_field(op, shape=(2, length), trials=4)
    expected = input_support(op.spec, [probe.position])
    np.testing.assert_array_equal(probe.support, expected)
    assert (probe.left, probe.right) == (rf.left, rf.right)
    assert probe.gaps == rf.gaps
    assert probe.method == "impulse"


def test_relu_stack_with_random_inputs():
    rng = np.random.default_rng(1)
    layers = [DilatedConv1d(rng.standard_normal((4, 4 if i else 1, 3)), rng.standard_normal(4),
                            d, alignment="centered") for i, d in enumerate((1, 2, 4))]

    def op(x):
        for layer in layers:
            x = np.maximum(layer(x), 0)
        return x.sum(axis=0)

    probe = probe_receptive_field(op, shape=(1, 80), trials=8)
    assert (probe.left, probe.right) == (7, 7) and probe.gaps == ()


def test_gridding_gaps_are_real():
    rng = np.random.default_rng(0)
    layers = [DilatedConv1d(rng.uniform(0.5, 1, (1, 1, 2)), None, d) for d in (1, 4, 16)]

    def op(x):
        for layer in layers:
            x = layer(x)
        return x

    probe = probe_receptive_field(op, 100)
    rf = receptive_field([layer.spec for layer in layers])
    assert probe.gaps == rf.gaps == (-19, -18, -15, -14, -13, -12, -11, -10, -9, -8, -7, -6,
                                     -3, -2)


def test_wavedil_stacks():
    tcn = TCN(1, [3, 3, 3], kernel_size=3, out_channels=1)
    wavenet = WaveNet(1, residual_channels=3, dilations=[1, 2, 4, 8], out_channels=1)
    for model, size in ((tcn, 1 + 2 * 2 * 7), (wavenet, None)):
        rf = receptive_field(model)
        probe = probe_receptive_field(model, 200, shape=(1, 1, 200))
        assert (probe.left, probe.right) == (rf.left, rf.right)
        if size is not None:
            assert rf.size == size


@pytest.mark.parametrize("wavelet", ["haar", "db2", "sym4", "coif1"])
@pytest.mark.parametrize("alignment", ["causal", "centered"])
def test_atrous_levels(wavelet, alignment):
    taps = pywt.Wavelet(wavelet).dec_len
    levels = 4
    op = AtrousTransform(wavelet, levels, alignment=alignment)
    rf = receptive_field(op)
    probe = probe_receptive_field(op, 300)
    assert (probe.left, probe.right) == (rf.left, rf.right)
    # the coarsest level reads through every lowpass: (K - 1)(2**J - 1) + 1 samples
    assert rf.size == (taps - 1) * (2**levels - 1) + 1
    assert rf.gaps == ()


@pytest.mark.parametrize("wavelet", ["db2", "sym3", "coif1"])
@pytest.mark.parametrize("level", [1, 2, 3])
def test_pywavelets_swt_support_closed_form(wavelet, level):
    # an independent implementation: the level-j approximation of pywt.swt
    taps = pywt.Wavelet(wavelet).dec_len

    def approx(x):
        return pywt.swt(x, wavelet, level=level, trim_approx=True, norm=False)[0]

    probe = probe_receptive_field(approx, 256)
    assert probe.size == (taps - 1) * (2**level - 1) + 1
    assert probe.gaps == ()
    chain = receptive_field(kernel_size=taps, dilations=[2**i for i in range(level)])
    assert probe.size == chain.size


def test_probe_bad_input():
    with pytest.raises(ValueError, match="give length= .* or shape="):
        probe_receptive_field(np.tanh)
    with pytest.raises(ValueError, match=r"position must be in \[0, 10\), got 12"):
        probe_receptive_field(np.tanh, 10, position=12)
    with pytest.raises(ValueError, match="reads no input sample"):
        probe_receptive_field(lambda x: np.zeros_like(x), 10)
    with pytest.raises(ValueError, match="length must be an integer >= 1, got 0"):
        probe_receptive_field(np.tanh, 0)
    with pytest.raises(TypeError, match="needs a torch.nn.Module, got ufunc"):
        effective_receptive_field(np.tanh, 10)


def test_effective_receptive_field(tmp_path):
    torch.manual_seed(0)
    layers = []
    for d in (1, 2, 4, 8, 16):
        layers += [nn.Conv1d(4 if layers else 1, 4, 3, dilation=d, padding=d), nn.Tanh()]
    model = nn.Sequential(*layers).double()
    rf = receptive_field(model, example_input=torch.zeros(1, 1, 200, dtype=torch.float64))
    erf = effective_receptive_field(model, 200, trials=8)
    assert (-erf.lags[0], erf.lags[-1]) == (rf.left, rf.right) == (31, 31)
    assert erf.profile.max() == 1.0 and np.all(erf.profile > 0)
    lo, hi = erf.mass_interval(0.95)
    assert -rf.left <= lo <= 0 <= hi <= rf.right
    assert hi - lo + 1 < rf.size  # the effective field is narrower than the theoretical one
    assert erf.mass_interval(1.0) == (-rf.left, rf.right)
    plot_effective_receptive_field(erf, rf).savefig(tmp_path / "erf.png")
    with open(tmp_path / "erf.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
