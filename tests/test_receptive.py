"""Receptive fields from spec trees, checked against published formulas, hand-worked
examples and an independent oracle (positive random kernels composed with np.convolve:
with positive taps no cancellation can hide a lag, so the support of the composed impulse
response is exactly the set of reachable lags)."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wavedil.engine.conv import DilatedConv1d
from wavedil.engine.spec import Branches, Chain, LayerSpec, Shift, dilation_schedule
from wavedil.receptive.field import (
    ReceptiveField,
    as_spec,
    halo,
    input_support,
    receptive_field,
    specs_from_schedule,
)

# -- published facts ---------------------------------------------------------------------


@pytest.mark.parametrize("kernel", [2, 3, 5])
@pytest.mark.parametrize("stacks", [1, 2, 3])
def test_keras_tcn_formula(kernel, stacks):
    # keras-tcn README: 1 + 2 * (K - 1) * nb_stacks * sum(dilations), two convs per block
    dilations = [1, 2, 4, 8, 16, 32, 64]
    rf = receptive_field(kernel_size=kernel, dilations=dilations, stacks=stacks,
                         convs_per_block=2)
    assert rf.size == 1 + 2 * (kernel - 1) * stacks * sum(dilations)
    assert (rf.left, rf.right) == (rf.size - 1, 0)
    assert rf.gaps == ()
    assert len(rf.layers) == 2 * len(dilations) * stacks


def test_keras_tcn_worked_number():
    rf = receptive_field(kernel_size=3, dilations=[1, 2, 4, 8, 16, 32, 64], convs_per_block=2,
                         sample_rate=16000)
    assert rf.size == 509
    assert rf.seconds == pytest.approx(509 / 16000, rel=1e-12)
    # counting one conv per block (the common mistake) gives 255
    assert receptive_field(kernel_size=3, dilations=[1, 2, 4, 8, 16, 32, 64]).size == 255


@pytest.mark.parametrize("stacks", [1, 2, 4])
def test_wavenet_1024_per_stack(stacks):
    rf = receptive_field(kernel_size=2, dilations=[2**i for i in range(10)], stacks=stacks)
    assert rf.size - 1 == 1023 * stacks  # 1024 samples for one stack
    assert rf.gaps == ()


@pytest.mark.parametrize("taps", [2, 4, 5, 8])
@pytest.mark.parametrize("level", [1, 2, 3, 5])
def test_atrous_level_support(taps, level):
    tree = Chain(tuple(LayerSpec(taps, 2**i, name=f"level{i + 1}") for i in range(level)))
    assert receptive_field(tree).size == (taps - 1) * (2**level - 1) + 1


def test_gridding_gaps_worked_by_hand():
    # kernel 2, dilations 1, 4, 16: output n reads n - (a + 4 b + 16 c), a, b, c in {0, 1}
    reached = sorted({-(a + 4 * b + 16 * c) for a, b, c in itertools.product((0, 1), repeat=3)})
    assert reached == [-21, -20, -17, -16, -5, -4, -1, 0]
    expected_gaps = [-19, -18, -15, -14, -13, -12, -11, -10, -9, -8, -7, -6, -3, -2]
    rf = receptive_field(kernel_size=2, dilations=[1, 4, 16])
    assert (rf.left, rf.right, rf.size) == (21, 0, 22)
    assert list(rf.gaps) == expected_gaps
    assert rf.gap_free is False
    assert "-15..-6" in str(rf)


def test_stride_closed_form():
    # r = 1 + sum_l (K_l - 1) d_l prod_{m<l} s_m  (Araujo et al., Distill 2019)
    layers = [(5, 1, 2), (3, 2, 3), (4, 1, 1), (2, 3, 2)]
    tree = [LayerSpec(k, d, s) for k, d, s in layers]
    expected, jump = 1, 1
    for k, d, s in layers:
        expected += (k - 1) * d * jump
        jump *= s
    rf = receptive_field(tree)
    assert rf.size == expected and rf.stride == 12


def test_stride_gaps():
    # a kernel-1 layer of stride 2 drops odd samples: kernel 2 after it reads lags 0 and -2
    rf = receptive_field([LayerSpec(1, stride=2), LayerSpec(2)])
    assert (rf.left, rf.right, rf.gaps) == (2, 0, (-1,))


# -- an independent oracle: composed positive kernels ----------------------------------------


def composed_response(tree, rng):
    """(first lag, positive impulse response) of a stride-1 tree, built with np.convolve."""
    if isinstance(tree, LayerSpec):
        h = np.zeros(tree.span + 1)
        h[:: tree.dilation] = rng.uniform(0.5, 1.5, tree.kernel_size)
        # y[n] = sum_t w[t] x[n - left + t d]: as a convolution, lag -left + t d
        return -tree.left, h
    if isinstance(tree, Shift):
        return tree.offset, np.ones(1)
    if isinstance(tree, Chain):
        start, h = 0, np.ones(1)
        for part in tree.parts:
            s, g = composed_response(part, rng)
            start, h = start + s, np.convolve(h, g)
        return start, h
    parts = [composed_response(p, rng) for p in tree.parts]
    lo = min(s for s, _ in parts)
    hi = max(s + len(g) for s, g in parts)
    h = np.zeros(hi - lo)
    for s, g in parts:
        h[s - lo : s - lo + len(g)] += g
    return lo, h


def reached_lags(tree, rng):
    start, h = composed_response(tree, rng)
    return start + np.flatnonzero(h > 0)


@st.composite
def layer_specs(draw, stride=False):
    k = draw(st.integers(1, 7))
    d = draw(st.integers(1, 9))
    span = (k - 1) * d
    left = draw(st.integers(0, span))
    s = draw(st.integers(1, 3)) if stride else 1
    return LayerSpec(k, d, s, left, span - left)


def trees(max_leaves=8):
    leaves = st.one_of(layer_specs(), st.builds(Shift, st.integers(-3, 3)))
    return st.recursive(
        leaves,
        lambda sub: st.one_of(
            st.lists(sub, min_size=1, max_size=4).map(lambda p: Chain(tuple(p))),
            st.lists(st.one_of(sub, st.just(Chain(()))), min_size=1, max_size=3)
            .map(lambda p: Branches(tuple(p))),
        ),
        max_leaves=max_leaves,
    )


@given(tree=trees(), seed=st.integers(0, 2**16))
def test_extent_and_gaps_match_composed_kernels(tree, seed):
    tree = Chain((LayerSpec(1), tree))  # at least one layer
    lags = reached_lags(tree, np.random.default_rng(seed))
    rf = receptive_field(tree)
    assert (rf.left, rf.right) == (-lags.min(), lags.max())
    assert rf.size == rf.left + rf.right + 1
    expected_gaps = sorted(set(range(-rf.left, rf.right + 1)) - set(lags.tolist()))
    assert list(rf.gaps) == expected_gaps
    np.testing.assert_array_equal(input_support(tree, [0]), lags)


@given(specs=st.lists(layer_specs(stride=True), min_size=1, max_size=6))
def test_chain_table_cumulative_matches_prefixes(specs):
    rf = receptive_field(specs)
    for i, row in enumerate(rf.layers):
        prefix = receptive_field(specs[: i + 1])
        assert (row.left, row.right) == (prefix.left, prefix.right)
    assert (rf.layers[-1].left, rf.layers[-1].right) == (rf.left, rf.right)


def test_table_rows_are_layers():
    spec = LayerSpec(3, 2, name="same object")
    rf = receptive_field([spec] * 4)  # one object repeated along a path: four layers
    assert [r.left for r in rf.layers] == [4, 8, 12, 16]
    shared = LayerSpec(3, 1, name="shared")
    ladder = Chain((shared, Branches((Chain(()), LayerSpec(2, 4)))))
    rf = receptive_field(Branches((ladder, Chain((shared,)))))  # one layer on two paths
    assert [r.name for r in rf.layers] == ["shared", "layer1"] and rf.params == 4 + 3


def test_residual_does_not_change_extent():
    plain = receptive_field(specs_from_schedule(3, [1, 2, 4], convs_per_block=2))
    res = receptive_field(specs_from_schedule(3, [1, 2, 4], convs_per_block=2, residual=True))
    assert (plain.left, plain.right) == (res.left, res.right)


def test_centered_schedule_latency():
    rf = receptive_field(kernel_size=3, dilations=[1, 2, 4], alignment="centered")
    # centered: each layer looks ahead floor(span / 2) = d samples
    assert (rf.left, rf.right, rf.latency) == (7, 7, 7)


def test_params_and_macs():
    rf = receptive_field(kernel_size=3, dilations=[1, 2], channels=8)
    assert rf.params == 2 * (8 * 8 * 3 + 8)
    assert rf.macs_per_sample == 2 * 8 * 8 * 3
    strided = receptive_field([LayerSpec(4, 1, 2, in_channels=2, out_channels=3),
                               LayerSpec(3, in_channels=3, out_channels=3, bias=False)])
    assert strided.params == (3 * 2 * 4 + 3) + 3 * 3 * 3
    assert strided.macs_per_sample == pytest.approx(3 * 2 * 4 / 2 + 3 * 3 * 3 / 2)


# -- wavedil objects ----------------------------------------------------------------------


def test_wavedil_layer_and_stream(rng):
    layer = DilatedConv1d(rng.standard_normal((2, 3, 4)), dilation=3, alignment="centered")
    rf = receptive_field(layer)
    assert (rf.left, rf.right) == (layer.left, layer.right) == (5, 4)
    assert receptive_field(layer.stream()) == rf
    assert as_spec(layer)[0] == layer.spec


def test_wavedil_stacks_transforms_and_their_streams():
    from wavedil.models.stack import TCN, WaveNet
    from wavedil.wavelets.streams import AtrousTransform

    tcn = TCN(1, [2, 2, 2], kernel_size=3)
    assert receptive_field(tcn).size == 1 + 2 * 2 * (1 + 2 + 4)  # two convs per block
    assert receptive_field(tcn.stream()) == receptive_field(tcn)
    wavenet = WaveNet(1, residual_channels=2, dilations=[1, 2, 4, 8])
    assert receptive_field(wavenet.stream()) == receptive_field(wavenet)
    transform = AtrousTransform("db2", 3, alignment="centered")
    rf = receptive_field(transform.stream())
    assert rf == receptive_field(transform) and rf.size == 3 * (2**3 - 1) + 1
    assert rf.latency == transform.stream().latency


class NumpyChain:
    """A chain of numpy DilatedConv1d layers, with its spec tree."""

    def __init__(self, layers):
        self.layers = layers
        self.spec = Chain(tuple(layer.spec for layer in layers))

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def random_chain(rng, n_layers, channels=2):
    layers = []
    for _ in range(n_layers):
        k, d = int(rng.integers(1, 5)), int(rng.integers(1, 6))
        span = (k - 1) * d
        left = int(rng.integers(0, span + 1))
        w = rng.standard_normal((channels, channels, k))
        layers.append(DilatedConv1d(w, rng.standard_normal(channels), d,
                                    alignment=(left, span - left)))
    return NumpyChain(layers)


@given(seed=st.integers(0, 2**16), n=st.integers(1, 200),
       block=st.sampled_from([1, 2, 3, 7, 31, 64, 500]))
def test_halo_blocks_reproduce_offline(seed, n, block):
    rng = np.random.default_rng(seed)
    op = random_chain(rng, int(rng.integers(1, 5)))
    x = rng.standard_normal((2, n))
    left, right = halo(op)
    parts = []
    for a in range(0, n, block):  # halos hold real samples; the signal's ends stay ends
        b = min(a + block, n)
        start = max(a - left, 0)
        y = op(x[:, start : b + right])
        parts.append(y[:, a - start : b - start])
    np.testing.assert_allclose(np.concatenate(parts, axis=1), op(x), rtol=1e-12, atol=1e-12)


def test_halo_too_small_breaks_it(rng):
    # the halo is tight: one sample less on the left changes the result
    op = random_chain(rng, 3)
    left, right = halo(op)
    assert left > 0
    x = rng.standard_normal((2, 80))
    y = op(x)
    a, b = 40, 50
    short = op(x[:, a - left + 1 : b + right])[:, left - 1 : left - 1 + b - a]
    assert not np.allclose(short, y[:, a:b])


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [dict(kernel_size=0), dict(kernel_size=3, dilation=0),
                                    dict(kernel_size=3, dilation=-2),
                                    dict(kernel_size=3, stride=0)])
def test_bad_layer_values(kwargs):
    with pytest.raises(ValueError, match=r"must be an integer >= 1, got"):
        LayerSpec(**kwargs)


def test_bad_schedules():
    with pytest.raises(ValueError, match="kernel_size must be an integer >= 1, got 0"):
        receptive_field(kernel_size=0, dilations=[1, 2])
    with pytest.raises(ValueError, match="dilation must be an integer >= 1, got -1"):
        receptive_field(kernel_size=3, dilations=[1, -1])
    with pytest.raises(ValueError, match="empty list"):
        receptive_field(kernel_size=3, dilations=[])
    with pytest.raises(ValueError, match="needs op"):
        receptive_field()
    with pytest.raises(ValueError, match="not both"):
        receptive_field(LayerSpec(3), kernel_size=3, dilations=[1])
    with pytest.raises(ValueError, match="sample_rate must be a positive number, got -1"):
        receptive_field(LayerSpec(3), sample_rate=-1)


def test_bad_trees():
    with pytest.raises(ValueError, match="empty spec"):
        receptive_field([])
    with pytest.raises(ValueError, match="empty spec"):
        receptive_field(Chain((Shift(2),)))
    with pytest.raises(ValueError, match="Branches needs at least one path"):
        receptive_field(Chain((LayerSpec(3), Branches(()))))
    with pytest.raises(TypeError, match=r"op\.Chain\[1\]: spec tree nodes must be .* got int"):
        receptive_field(Chain((LayerSpec(3), 5)))
    with pytest.raises(TypeError, match="got str"):
        receptive_field("model.npz")
    with pytest.raises(ValueError, match="one total stride"):
        receptive_field(Branches((LayerSpec(3, stride=2), LayerSpec(3))))
    with pytest.raises(ValueError, match="kind must be one of"):
        LayerSpec(3, kind="deconv")
    with pytest.raises(TypeError, match="Shift offset must be an integer"):
        Shift(1.5)


def test_halo_rejects_strides():
    with pytest.raises(ValueError, match="total stride of 2"):
        halo([LayerSpec(3, stride=2)])


def test_result_is_frozen_and_printable():
    rf = receptive_field(kernel_size=2, dilations=dilation_schedule(4), sample_rate=8000)
    assert isinstance(rf, ReceptiveField)
    with pytest.raises(AttributeError):
        rf.left = 3
    text = str(rf)
    assert "receptive field: 16 samples (past 15, lookahead 0) = 2 ms at 8000 Hz" in text
    assert "gaps: none" in text and "stack0.block3" in text
