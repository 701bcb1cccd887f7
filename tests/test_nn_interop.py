"""pytorch-tcn interop: every option with a streaming meaning converts, and the converted
model computes what pytorch-tcn's own forward computes, offline (torch and numpy) and chunk
by chunk (the numpy and the torch streams, any chunking); options without an equivalent
are refused by name."""

import functools
import warnings

import numpy as np
import pytest
import pytorch_tcn
import torch
from helpers import chunk_sizes
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from wavedil.engine.stream import feed_stream
from wavedil.models.loader import load
from wavedil.nn import TCN, export, from_pytorch_tcn, to_numpy

torch.set_num_threads(2)
warnings.filterwarnings("ignore", message=".*kernel_initializer.*")  # pytorch-tcn's gain note


def reference(dtype=torch.float32, channels=(8, 8, 6), **options):
    """A pytorch-tcn TCN in eval mode with non-trivial weight-norm gains, norm parameters
    and batch-norm statistics (its initialisation leaves them at the identity)."""
    torch.manual_seed(0)
    model = pytorch_tcn.TCN(2, list(channels), **options).to(dtype).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("original0"):
                p.mul_(torch.empty_like(p).uniform_(0.5, 2.0))
            elif ".norm" in name:
                p.add_(0.3 * torch.randn_like(p))
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return model


def rel_error(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def time_last(model, x):
    """``x`` (as pytorch-tcn takes it) with time last, as wavedil's streams take it."""
    return x.transpose(1, 2) if model.input_shape == "NLC" else x


# pytorch-tcn option -> what wavedil makes of it (the option matrix's converted rows)
CONVERTED = {
    "defaults": {},  # kernel 4, dropout 0.1, weight norm, ReLU, causal
    "causal=False": {"causal": False},  # odd spans (K 4, dilation 1): the extra sample after
    "causal=False-k3": {"causal": False, "kernel_size": 3},
    "activation=tanh": {"activation": "tanh"},
    "activation=gelu": {"activation": "gelu"},
    "activation=leaky_relu": {"activation": "leaky_relu"},
    "activation=elu": {"activation": "elu"},
    "activation=sigmoid": {"activation": "sigmoid"},
    "activation=nn.SiLU": {"activation": nn.SiLU},
    "activation=nn.SELU": {"activation": nn.SELU},
    "use_norm=None": {"use_norm": None},
    "use_norm=batch_norm": {"use_norm": "batch_norm"},
    "use_norm=layer_norm": {"use_norm": "layer_norm"},
    "use_gate": {"use_gate": True},
    "use_skip_connections": {"use_skip_connections": True},
    "input_shape=NLC": {"input_shape": "NLC"},
    "output_projection+activation": {"output_projection": 3, "output_activation": "tanh"},
    "dilation_reset": {"dilation_reset": 2, "use_norm": None},
    "everything-non-causal": {"causal": False, "use_norm": "layer_norm", "use_gate": True,
                              "use_skip_connections": True, "activation": "gelu",
                              "output_projection": 2, "output_activation": "sigmoid",
                              "input_shape": "NLC"},
    "batch_norm-skips-silu-non-causal": {"causal": False, "use_norm": "batch_norm",
                                         "use_skip_connections": True, "activation": nn.SiLU},
}


@pytest.mark.parametrize("name", sorted(CONVERTED))
def test_every_option_converts_to_the_same_function(name, tmp_path):
    """pytorch-tcn's forward == the converted torch TCN == its numpy export, offline;
    == the numpy and the torch streams chunk by chunk (float32 tolerance)."""
    theirs = reference(**CONVERTED[name])
    ours = from_pytorch_tcn(theirs)
    assert isinstance(ours, TCN) and not ours.training
    shape = (3, 300, 2) if theirs.input_shape == "NLC" else (3, 2, 300)
    x = torch.randn(shape)
    with torch.no_grad():
        expected = theirs(x).numpy()
        assert rel_error(ours(x).numpy(), expected) <= 1e-5
    export(ours, tmp_path / "converted.npz")
    numpy_model = load(tmp_path / "converted.npz")
    expected_tl = time_last(theirs, torch.from_numpy(expected)).numpy()
    x_tl = time_last(theirs, x).numpy()
    assert numpy_model.latency == ours.latency == receptive_lookahead(theirs)
    assert rel_error(numpy_model(x_tl), expected_tl) <= 1e-5
    sizes = [1, 7, 32, 0, 100, 160]
    assert rel_error(feed_stream(numpy_model.stream(3), x_tl, sizes), expected_tl) <= 1e-5
    torch_stream = ours.stream(3)
    parts, start = [], 0
    for size in sizes:
        parts.append(torch_stream.process(x_tl[..., start : start + size]).numpy())
        start += size
    parts.append(torch_stream.flush().numpy())
    assert rel_error(np.concatenate(parts, -1), expected_tl) <= 1e-5


def receptive_lookahead(theirs):
    """The lookahead of a pytorch-tcn TCN from its convs' right padding: along the chain
    of blocks, the sum over every conv (the residuals and skips only wait for it)."""
    return sum(conv.padder.pad.padding[1] for block in theirs.network
               for conv in (block.conv1, block.conv2))


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)],
                         ids=["f32", "f64"])
def test_default_options_convert_exactly(dtype, tol):
    theirs = reference(dtype)
    ours = from_pytorch_tcn(theirs)
    assert ours.config["kernel_size"] == 4 and ours.config["dilations"] == [1, 2, 4]
    assert ours.blocks[0].dropout1.p == 0.1 and ours.latency == 0
    assert set(ours.config) == {"in_channels", "channels", "kernel_size", "dilations",
                                "out_channels"}  # Bai et al.'s TCN: the fused runtime
    x = torch.randn(3, 2, 400, dtype=dtype)
    with torch.no_grad():
        assert rel_error(ours(x).numpy(), theirs(x).numpy()) <= tol
        assert rel_error(to_numpy(ours)(x.numpy()), theirs(x).numpy()) <= tol


def test_float64_non_causal_gated_layer_norm_is_exact():
    theirs = reference(torch.float64, causal=False, use_gate=True, use_norm="layer_norm",
                       use_skip_connections=True, activation="gelu")
    numpy_model = to_numpy(from_pytorch_tcn(theirs))
    x = torch.randn(2, 2, 250, dtype=torch.float64)
    with torch.no_grad():
        expected = theirs(x).numpy()
    assert rel_error(numpy_model(x.numpy()), expected) <= 1e-12
    assert rel_error(feed_stream(numpy_model.stream(2), x.numpy(), [1, 13, 64]),
                     expected) <= 1e-12


NON_CAUSAL = reference(torch.float64, channels=(6, 4), kernel_size=3, dilations=[1, 5],
                       causal=False, use_skip_connections=True, use_norm="layer_norm")
NON_CAUSAL_NUMPY = to_numpy(from_pytorch_tcn(NON_CAUSAL))


@settings(max_examples=30, deadline=None)
@given(length=st.integers(0, 90), sizes=chunk_sizes(90), batch=st.sampled_from([1, 3]),
       seed=st.integers(0, 2**31))
def test_non_causal_stream_equals_pytorch_tcn_for_any_chunking(length, sizes, batch, seed):
    """Any split (empty chunks, single samples, chunks shorter than the latency, signals
    shorter than it): the numpy stream plus its flush is pytorch-tcn's offline output."""
    x = torch.randn(batch, 2, length, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(seed))
    stream = NON_CAUSAL_NUMPY.stream(batch)
    y = feed_stream(stream, x.numpy(), sizes if any(sizes) else sizes + [1])
    assert stream.latency == 2 * 1 + 2 * 5  # each conv: span - span // 2 after
    if length:
        with torch.no_grad():
            expected = NON_CAUSAL(x).numpy()
        assert np.max(np.abs(y - expected)) <= 1e-12 * max(1.0, np.abs(expected).max())
    else:
        assert y.shape == (batch, 4, 0)


@pytest.mark.parametrize("options", [{}, {"use_gate": True, "use_norm": "layer_norm"},
                                     {"use_skip_connections": True, "use_norm": "batch_norm",
                                      "activation": "tanh"}], ids=["defaults", "gate-ln",
                                                                   "skips-bn"])
def test_pytorch_tcn_streaming_equals_the_numpy_stream(options):
    """pytorch-tcn's own streaming (``inference=True``, causal, batch 1) and wavedil's."""
    theirs = reference(**options)
    numpy_model = to_numpy(from_pytorch_tcn(theirs))
    x = torch.randn(1, 2, 300)
    sizes = [1, 7, 32, 1, 100, 159]
    theirs.reset_buffers()
    stream = numpy_model.stream(1)
    ours, reference_parts, start = [], [], 0
    with torch.no_grad():
        for size in sizes:
            chunk = x[..., start : start + size]
            reference_parts.append(theirs(chunk, inference=True).numpy())
            ours.append(stream.process(chunk.numpy()))
            start += size
        offline = theirs(x).numpy()
    assert rel_error(np.concatenate(reference_parts, -1), offline) <= 1e-5
    assert rel_error(np.concatenate(ours, -1), offline) <= 1e-5


def test_converted_options_are_the_expected_ones():
    ours = from_pytorch_tcn(reference(channels=(4, 6), kernel_size=4, causal=False,
                                      use_norm="layer_norm", use_gate=True,
                                      use_skip_connections=True, activation="gelu",
                                      output_projection=2, output_activation="tanh",
                                      input_shape="NLC"))
    # spans 3 and 6: span // 2 before, the rest after ("centered" would put 2 before 1)
    assert ours.config["alignment"] == [[1, 2], [1, 2], [3, 3], [3, 3]]
    assert {k: ours.config[k] for k in ("activation", "norm", "gate", "skip_connections",
                                        "output_activation")} == {
        "activation": "gelu", "norm": "layer_norm", "gate": True, "skip_connections": True,
        "output_activation": "tanh"}
    assert ours.input_shape == "NLC" and "input_shape" not in ours.config
    assert set(ours.skips) == {"0"} and ours.blocks[0].conv1.out_channels == 8  # gate: 2 C
    assert ours.latency == 2 + 2 + 3 + 3


def test_batch_norm_is_folded_into_plain_convs():
    theirs = reference(use_norm="batch_norm")
    ours = from_pytorch_tcn(theirs)
    block = ours.blocks[0]
    assert block.norm1 is None and not torch.nn.utils.parametrize.is_parametrized(block.conv1)
    bn, conv = theirs.network[0].norm1, theirs.network[0].conv1
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    with torch.no_grad():
        np.testing.assert_allclose(block.conv1.weight.numpy(),
                                   (conv.weight * scale[:, None, None]).numpy(), rtol=1e-6)


def test_projection_no_norm_dilations_and_train_mode_are_carried_over():
    torch.manual_seed(1)
    theirs = pytorch_tcn.TCN(1, [4, 4, 4], kernel_size=3, dilations=[1, 3, 9], use_norm=None,
                             output_projection=2, dropout=0.0)
    ours = from_pytorch_tcn(theirs)
    assert ours.training and ours.config["dilations"] == [1, 3, 9]
    assert ours.config["out_channels"] == 2
    assert not torch.nn.utils.parametrize.is_parametrized(ours.blocks[0].conv1)
    x = torch.randn(2, 1, 100)
    assert rel_error(ours(x).detach().numpy(), theirs(x).detach().numpy()) <= 1e-5


def test_gradients_agree_so_training_can_continue():
    theirs = reference(torch.float64, dropout=0.0, causal=False, use_norm="layer_norm")
    ours = from_pytorch_tcn(theirs)
    x = torch.randn(2, 2, 60, dtype=torch.float64)
    theirs(x).square().sum().backward()
    ours(x).square().sum().backward()
    g_theirs = theirs.network[1].conv2.weight.grad
    g_ours = ours.blocks[1].conv2.weight.grad
    assert rel_error(g_ours.numpy(), g_theirs.numpy()) <= 1e-12
    assert rel_error(ours.blocks[0].norm1.weight.grad.numpy(),
                     theirs.network[0].norm1.weight.grad.numpy()) <= 1e-12


def _train_mode_batch_norm():
    return pytorch_tcn.TCN(2, [4, 4], use_norm="batch_norm").train()


def _batch_norm_without_running_statistics():
    model = pytorch_tcn.TCN(2, [4, 4], use_norm="batch_norm").eval()
    model.network[0].norm1.running_mean = None
    return model


def _layer_norm_eps():
    model = pytorch_tcn.TCN(2, [4, 4], use_norm="layer_norm")
    model.network[1].norm2.eps = 1e-3
    return model


def _mixed_activations():
    model = pytorch_tcn.TCN(2, [4, 4])
    model.network[1].activation2 = nn.Tanh()
    return model


REFUSED = {  # pytorch-tcn option -> what the error names (the option matrix's refused rows)
    "embedding_shapes": (lambda: pytorch_tcn.TCN(2, [4, 4], embedding_shapes=[(3,)]),
                         r"embedding_shapes=\[\(3,\)\] cannot be mapped: .*no conditioning"),
    "batch_norm in train mode": (_train_mode_batch_norm,
                                 r"use_norm='batch_norm' cannot be mapped in train mode"),
    "batch_norm without running statistics": (_batch_norm_without_running_statistics,
                                              r"without track_running_stats"),
    "activation=softmax": (lambda: pytorch_tcn.TCN(2, [4, 4], activation="softmax"),
                           r"activation=Softmax\(dim=None\) cannot be mapped: .*batch axis"),
    "output_activation=log_softmax": (
        lambda: pytorch_tcn.TCN(2, [4, 4], output_activation="log_softmax"),
        r"output_activation=LogSoftmax\(dim=None\) cannot be mapped"),
    "gelu tanh approximation": (
        lambda: pytorch_tcn.TCN(2, [4, 4], activation=functools.partial(
            nn.GELU, approximate="tanh")), r"activation=GELU\(approximate='tanh'\) cannot"),
    "leaky_relu slope 0.2": (
        lambda: pytorch_tcn.TCN(2, [4, 4], activation=functools.partial(nn.LeakyReLU, 0.2)),
        r"activation=LeakyReLU\(negative_slope=0.2\) cannot be mapped: .*slope 0.01"),
    "other activation modules": (lambda: pytorch_tcn.TCN(2, [4, 4], activation=nn.Mish),
                                 r"activation=Mish\(\) cannot be mapped"),
    "layer norm eps": (_layer_norm_eps, r"layer norm eps=0.001 cannot be mapped"),
    "mixed activations": (_mixed_activations, r"activation cannot be mapped: the blocks use "
                                              r"\['relu', 'tanh'\]"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unmappable_options_are_named(name):
    make, named = REFUSED[name]
    with pytest.raises(ValueError, match=named):
        from_pytorch_tcn(make())


def test_other_modules_are_refused():
    with pytest.raises(TypeError, match="model must be a pytorch_tcn.TCN, got TCN"):
        from_pytorch_tcn(TCN(1, [2]))


def test_nlc_input_is_checked_in_its_own_layout():
    ours = from_pytorch_tcn(reference(input_shape="NLC"))
    with pytest.raises(ValueError, match=r"expected x of shape \(B, T, 2\) \(input_shape='NLC'\), "
                                         r"got \(1, 2, 50\)"):
        ours(torch.zeros(1, 2, 50))
