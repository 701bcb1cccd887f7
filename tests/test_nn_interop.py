"""pytorch-tcn interop: converted models compute what pytorch-tcn computes, offline and
streaming; options without an equivalent are refused by name."""

import numpy as np
import pytest
import pytorch_tcn
import torch

from wavedil.models.loader import load
from wavedil.nn import TCN, export, from_pytorch_tcn, to_numpy

torch.set_num_threads(2)


def reference(dtype=torch.float32, **options):
    torch.manual_seed(0)
    model = pytorch_tcn.TCN(2, [8, 8, 6], **options).to(dtype).eval()
    with torch.no_grad():  # make the weight-norm gains differ from ||v||
        for name, p in model.named_parameters():
            if name.endswith("original0"):
                p.mul_(torch.empty_like(p).uniform_(0.5, 2.0))
    return model


def rel_error(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)],
                         ids=["f32", "f64"])
def test_default_options_convert_to_the_same_function(dtype, tol, tmp_path):
    theirs = reference(dtype)  # defaults: kernel 4, dropout 0.1, weight norm, ReLU, causal
    ours = from_pytorch_tcn(theirs)
    assert isinstance(ours, TCN) and not ours.training
    assert ours.config["kernel_size"] == 4 and ours.config["dilations"] == [1, 2, 4]
    assert ours.blocks[0].dropout1.p == 0.1
    x = torch.randn(3, 2, 400, dtype=dtype)
    with torch.no_grad():
        expected = theirs(x).numpy()
        assert rel_error(ours(x).numpy(), expected) <= tol
    export(ours, tmp_path / "converted.npz")
    numpy_model = load(tmp_path / "converted.npz")
    assert rel_error(numpy_model(x.numpy()), expected) <= tol


def test_pytorch_tcn_streaming_equals_the_numpy_stream():
    theirs = reference()
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
    theirs = reference(torch.float64, dropout=0.0)
    ours = from_pytorch_tcn(theirs)
    x = torch.randn(2, 2, 60, dtype=torch.float64)
    theirs(x).square().sum().backward()
    ours(x).square().sum().backward()
    g_theirs = theirs.network[1].conv2.parametrizations.weight.original1.grad
    g_ours = ours.blocks[1].conv2.parametrizations.weight.original1.grad
    assert rel_error(g_ours.numpy(), g_theirs.numpy()) <= 1e-12


@pytest.mark.parametrize("options, named", [
    ({"causal": False}, "causal=False"),
    ({"use_norm": "batch_norm"}, "use_norm=\\['batch_norm'\\]"),
    ({"use_norm": "layer_norm"}, "use_norm=\\['layer_norm'\\]"),
    ({"activation": "tanh"}, "activation='tanh'"),
    ({"use_skip_connections": True}, "use_skip_connections=True"),
    ({"use_gate": True}, "use_gate=True"),
    ({"embedding_shapes": [(3,)]}, "embedding_shapes=\\[\\(3,\\)\\]"),
    ({"input_shape": "NLC"}, "input_shape='NLC'"),
    ({"output_activation": "tanh"}, "output_activation='tanh'"),
])
def test_unmappable_options_are_named(options, named):
    theirs = pytorch_tcn.TCN(2, [4, 4], **options)
    with pytest.raises(ValueError, match=f"pytorch-tcn option {named} cannot be mapped"):
        from_pytorch_tcn(theirs)


def test_other_modules_are_refused():
    with pytest.raises(TypeError, match="expected a pytorch_tcn.TCN, got TCN"):
        from_pytorch_tcn(TCN(1, [2]))
