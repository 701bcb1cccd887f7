"""Traced spec trees of torch modules against the gradient probe: the input samples that the
analytic tree says an output reads are exactly those with a non-zero input gradient."""


import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchaudio.models as tam
from hypothesis import given, settings
from hypothesis import strategies as st
from pytorch_tcn import TCN as PytorchTCN
from torch import nn
from torchaudio.models.wav2vec2.components import _get_feature_extractor

from wavedil.receptive.field import input_support, receptive_field
from wavedil.receptive.probe import probe_receptive_field
from wavedil.receptive.torch_trace import trace_spec

torch.set_num_threads(2)


def assert_trace_matches_probe(model, length, positions=None, shape=None, output_axis=-1,
                               example_input=None):
    if example_input is None:  # trace at the probe's size (the default 4096 is slower)
        channels = next(m for m in model.modules() if isinstance(m, nn.Conv1d)).in_channels
        example_input = torch.zeros(shape or (1, channels, length),
                                    dtype=next(model.parameters()).dtype)
    traced = trace_spec(model, example_input=example_input)
    rf = receptive_field(traced.spec)
    probes = []
    for position in positions or [None]:
        probe = probe_receptive_field(model, length, shape=shape, position=position,
                                      stride=rf.stride, output_axis=output_axis)
        expected = input_support(traced.spec, [probe.position])
        expected = expected[(expected >= 0) & (expected < (shape or (length,))[-1])]
        np.testing.assert_array_equal(np.array(probe.support), expected)
        probes.append(probe)
    return traced, rf, probes


# -- random stacks --------------------------------------------------------------------------


class Padded(nn.Module):
    """F.pad (left, right) then a valid conv: any alignment, exercises functional pads."""

    def __init__(self, k, d, s, left, c):
        super().__init__()
        self.pad = (left, (k - 1) * d - left)
        self.conv = nn.Conv1d(c, c, k, stride=s, dilation=d)

    def forward(self, x):
        return torch.sin(self.conv(F.pad(x, self.pad)))  # never flat, unlike a saturated tanh


class Sin(nn.Module):
    def forward(self, x):
        return torch.sin(x)


class Chomped(nn.Module):
    """locuslab TCN style: symmetric padding then chomp the end (a getitem slice)."""

    def __init__(self, k, d, c):
        super().__init__()
        self.chomp = (k - 1) * d
        self.conv = nn.Conv1d(c, c, k, dilation=d, padding=self.chomp)

    def forward(self, x):
        y = self.conv(x)
        return y[:, :, : y.shape[-1] - self.chomp] if self.chomp else y


class Residual(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


class Parallel(nn.Module):
    """Two paths concatenated over channels, then mixed by a 1x1 conv."""

    def __init__(self, a, b, c):
        super().__init__()
        self.a, self.b = a, b
        self.mix = nn.Conv1d(2 * c, c, 1)

    def forward(self, x):
        return self.mix(torch.cat([self.a(x), self.b(x)], dim=1))


C = 2


@st.composite
def same_length_layer(draw):
    k, d = draw(st.integers(1, 7)), draw(st.integers(1, 4))
    if draw(st.booleans()):
        return Chomped(k, d, C)
    return Padded(k, d, 1, draw(st.integers(0, (k - 1) * d)), C)


@st.composite
def block(draw):
    kind = draw(st.sampled_from(["conv", "strided", "residual", "parallel", "pool", "up"]))
    if kind == "conv":
        return draw(same_length_layer())
    if kind == "strided":
        k, d = draw(st.integers(1, 5)), draw(st.integers(1, 3))
        pad = draw(st.integers(0, (k - 1) * d))
        return nn.Sequential(nn.Conv1d(C, C, k, stride=draw(st.integers(2, 3)), dilation=d,
                                       padding=pad), Sin())
    if kind == "residual":
        return Residual(nn.Sequential(*draw(st.lists(same_length_layer(), min_size=1,
                                                     max_size=2))))
    if kind == "parallel":
        return Parallel(draw(same_length_layer()), draw(same_length_layer()), C)
    if kind == "pool":
        # (max pooling passes a gradient to one sample per window: tested on its own)
        k = draw(st.integers(1, 4))
        return nn.AvgPool1d(k, stride=draw(st.integers(1, 2)),
                            padding=draw(st.integers(0, k // 2)))
    k, s = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    return nn.Sequential(nn.ConvTranspose1d(C, C, k, stride=s,
                                            padding=draw(st.integers(0, k - 1))), Sin())


@settings(max_examples=15)
@given(blocks=st.lists(block(), min_size=1, max_size=4), seed=st.integers(0, 1000))
@pytest.mark.slow  # one of the slowest: left out of `make quick`
def test_random_stacks_match_gradient_probe(blocks, seed):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv1d(C, C, 1), *blocks).double()
    traced = trace_spec(model)
    assert traced.method == "fx" and traced.notes == ()
    out_len = model(torch.zeros(1, C, 400, dtype=torch.float64)).shape[-1]
    mid = out_len // 2
    for position in (mid, mid + 1, mid + 2):  # several phases of any transposed conv
        expected = input_support(traced.spec, [position])
        expected = expected[(expected >= 0) & (expected < 400)]
        if expected.size == 0:  # e.g. odd outputs of a kernel-1 stride-2 transposed conv
            with pytest.raises(ValueError, match="reads no input sample"):
                probe_receptive_field(model, 400, position=position)
            continue
        probe = probe_receptive_field(model, 400, position=position)
        np.testing.assert_array_equal(probe.support, expected)


def test_max_pool():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.MaxPool1d(3, stride=2, padding=1),
                          nn.Conv1d(4, 1, 2, dilation=2)).double()
    rf = receptive_field(model)
    assert (rf.left, rf.right, rf.stride) == (2, 6, 2)  # (1+1, 1+1) then (0, 2) x 2
    probe = probe_receptive_field(model, 100, stride=2, trials=40)
    assert (probe.left, probe.right) == (rf.left, rf.right)


def test_transposed_and_stride_extent_by_hand():
    # conv k=4 s=2 p=1: frame j reads 2j-1..2j+2; transposed k=3 s=2 p=1: output o reads
    # frames (o + 1 - t) / 2: output 2j reads frame j (lags -1..2), output 2j+1 frames j and
    # j+1 (inputs 2j-1..2j+4, lags -2..3): the maximum over both phases is (2, 3)
    model = nn.Sequential(nn.Conv1d(1, 1, 4, stride=2, padding=1),
                          nn.ConvTranspose1d(1, 1, 3, stride=2, padding=1))
    rf = receptive_field(model, example_input=torch.zeros(1, 1, 64))
    assert rf.stride == 1
    assert (rf.left, rf.right) == (2, 3)
    assert_trace_matches_probe(model, 64, positions=[20, 21])


# -- third-party models ------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3, use_skip_connections=True),  # causal, weight norm, skips
    dict(kernel_size=4, causal=False, use_norm="layer_norm", dilations=[1, 3, 9]),
    dict(kernel_size=2, use_norm="batch_norm", use_gate=True),
])
def test_pytorch_tcn(kwargs):
    torch.manual_seed(0)
    model = PytorchTCN(2, [6, 6, 6], **kwargs)
    if kwargs.get("use_norm") == "batch_norm":
        notes = trace_spec(model).notes  # training mode: batch statistics over time
        assert any("BatchNorm in training mode" in n for n in notes)
        model.eval()
    traced, rf, probes = assert_trace_matches_probe(model, 300)
    k, d = kwargs["kernel_size"], kwargs.get("dilations", [1, 2, 4])
    assert rf.size == 1 + 2 * (k - 1) * sum(d)  # two convs per block
    # non-causal pytorch-tcn pads floor(span / 2) on the left, the rest on the right
    past = 2 * sum((k - 1) * di // 2 for di in d) if kwargs.get("causal") is False else rf.size - 1
    assert (rf.left, rf.right) == (past, rf.size - 1 - past)
    assert traced.notes == ()


@pytest.mark.slow  # one of the slowest: left out of `make quick`
def test_wav2letter():
    torch.manual_seed(0)
    mfcc = tam.Wav2Letter(num_classes=4, input_type="mfcc", num_features=5)
    traced, rf, _ = assert_trace_matches_probe(mfcc, 700)
    # k48 s2 p23, 7 x (k7 p3), k32 p16, two 1x1: 47 + 2 * (7 * 6 + 31) = 193 frames
    assert (rf.size, rf.stride, rf.left) == (47 + 2 * (7 * 6 + 31) + 1, 2, 23 + 2 * (21 + 16))
    wave = tam.Wav2Letter(num_classes=4, input_type="waveform", num_features=1)
    traced, rf, _ = assert_trace_matches_probe(wave, 4000)  # support cut at the ends
    assert rf.stride == 320


@pytest.mark.parametrize("mode", ["layer_norm", "group_norm"])
def test_wav2vec2_feature_extractor(mode):
    torch.manual_seed(0)
    model = _get_feature_extractor(mode, [(8, 10, 5), (8, 3, 2), (8, 2, 2)], False)
    x = torch.randn(1, 3000)
    traced = trace_spec(model, example_input=x)
    rf = receptive_field(traced.spec)
    # wav2vec 2.0: receptive field 10 + 2*5 + 1*10 = 30 samples, stride 20 (400 / 320 full)
    assert (rf.left, rf.right, rf.stride) == (0, 29, 20)
    assert traced.method == "hooks"
    assert any("forward hooks" in n for n in traced.notes)
    if mode == "group_norm":  # GroupNorm(512, 512): a per-channel norm over time
        assert any("GroupNorm" in n and "mixes the whole time axis" in n for n in traced.notes)
        probe = probe_receptive_field(model, shape=(1, 3000), output_axis=1, stride=20)
        assert probe.support == tuple(range(3000))  # the norm reads everything
    else:
        assert_trace_matches_probe(model, 3000, shape=(1, 3000), output_axis=1,
                                   example_input=x)
        assert not any("mixes" in n for n in traced.notes)


def small_conv_tasnet():
    return tam.ConvTasNet(num_sources=2, enc_kernel_size=8, enc_num_feats=8, msk_kernel_size=3,
                          msk_num_feats=6, msk_num_hidden_feats=8, msk_num_layers=3,
                          msk_num_stacks=2)


def test_conv_tasnet_explains_global_norm():
    torch.manual_seed(0)
    model = small_conv_tasnet()
    x = torch.zeros(1, 1, 400)
    traced = trace_spec(model, example_input=x)
    rf = receptive_field(model, example_input=x)
    assert rf.notes == traced.notes
    assert any("GroupNorm" in n and "mixes the whole time axis" in n for n in traced.notes)
    assert any("could not trace ConvTasNet" in n for n in traced.notes)
    # encoder k8 s4 p4 (4, 3); 2 stacks of dilations 1, 2, 4 (k3, padding d) = 14 frames each
    # side, x4 samples; decoder transposed k8 s4 p4: (3, 4) in output samples
    assert (rf.left, rf.right) == (4 + 14 * 4 + 3, 3 + 14 * 4 + 4)
    # the table: one row per conv, though the skip sums put each on many paths
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d))]
    assert len(rf.layers) == len(convs)
    assert rf.params == sum(p.numel() for m in convs for p in m.parameters())
    probe = probe_receptive_field(model, 400)
    assert probe.support == tuple(range(400))  # gLN: every output reads every input
    # without the global norms the conv path is all there is, and the trace is exact
    for m in list(model.modules()):
        for child_name, child in list(m.named_children()):
            if isinstance(child, nn.GroupNorm):
                setattr(m, child_name, nn.Identity())
    _, rf2, _ = assert_trace_matches_probe(model, 400, positions=[None, 203])
    assert (rf2.left, rf2.right) == (rf.left, rf.right)


def test_wavedil_torch_models_agree_with_numpy_specs():
    from wavedil.nn.models import TCN, WaveNet

    torch.manual_seed(0)
    for model in (TCN(1, [4, 4, 4], kernel_size=3), WaveNet(1, residual_channels=4,
                                                           dilations=[1, 2, 4, 8])):
        traced = trace_spec(model, example_input=torch.zeros(1, 1, 200))
        rf = receptive_field(traced.spec)
        probe = probe_receptive_field(model, 200)
        assert (rf.left, rf.right) == (probe.left, probe.right)
        assert (rf.left, rf.right) == (receptive_field(model).left, 0)  # model.spec


# -- bad input ----------------------------------------------------------------------------


def test_no_conv_layers():
    with pytest.raises(ValueError, match="has no Conv1d/ConvTranspose1d layer"):
        trace_spec(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match="has no conv or pooling layer on the time path"):
        trace_spec(nn.Sequential(nn.ReLU()), example_input=torch.zeros(1, 2, 50))


class TimeConcat(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 3)

    def forward(self, x):
        return torch.cat([self.conv(x), x], dim=-1)


class ValueDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, 1, 3))

    def forward(self, x):
        if x.sum() > 0:
            return F.conv1d(x, self.weight)
        return F.conv1d(x, -self.weight)


def test_untraceable_modules_name_the_layer():
    with pytest.raises(ValueError, match=r"cannot trace cat.*concatenates along the time"):
        trace_spec(TimeConcat())
    with pytest.raises(ValueError, match=r"cannot trace ValueDependent .*torch.fx failed "
                                         r"\(TraceError.*calls no sub-module"):
        trace_spec(ValueDependent(), example_input=torch.zeros(1, 1, 40))
    with pytest.raises(TypeError, match="expected a torch.nn.Module, got int"):
        trace_spec(3)
