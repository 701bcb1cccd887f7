"""Model files: export from torch (weight norm folded), load into numpy, clear errors."""

import json
import os
import stat
import warnings

import numpy as np
import pytest
import torch

from wavedil.models.file import FORMAT_VERSION, read
from wavedil.models.loader import load
from wavedil.models.stack import TCN as NumpyTCN
from wavedil.nn import TCN, CausalConv1d, Stack, WaveNet, export, folded_weight

torch.set_num_threads(2)


def rewrite(path, **changes):
    """Copy of the model file with arrays replaced (None deletes) and the header edited."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["__config__"]))
    for key, value in changes.items():
        if key == "header":
            header.update(value)
        elif value is None:
            del arrays[key]
        else:
            arrays[key] = value
    arrays["__config__"] = np.array(json.dumps(header))
    out = str(path).replace(".npz", "-edited.npz")
    np.savez(out, **arrays)
    return out


@pytest.fixture(scope="module")
def tcn_file(tmp_path_factory):
    torch.manual_seed(0)
    model = TCN(2, [8, 8, 4], kernel_size=3, out_channels=1).eval()
    path = tmp_path_factory.mktemp("models") / "tcn.npz"
    assert export(model, path) == str(path)
    return model, path


@pytest.mark.parametrize("make", [
    lambda: TCN(2, [8, 8, 4], kernel_size=3, dilations=[1, 2, 4], out_channels=1, dropout=0.1),
    lambda: WaveNet(1, 8, 12, 6, dilations=[1, 2, 4, 8], global_cond_channels=2,
                    local_cond_channels=3, weight_norm=True),
    lambda: Stack([{"channels": 6, "kernel_size": 3, "dilation": 2},
                   {"channels": 1, "activation": "tanh"}], in_channels=1, weight_norm=True),
], ids=["tcn", "wavenet", "stack"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_export_then_load_gives_the_same_model(make, dtype, tmp_path):
    torch.manual_seed(1)
    model = make().to(dtype).eval()
    export(model, tmp_path / "m.npz")
    numpy_model = load(tmp_path / "m.npz")
    assert type(numpy_model).__name__ == type(model).__name__
    assert numpy_model.config == model.config and numpy_model.spec == model.spec
    x = torch.randn(2, model.in_channels, 300, dtype=dtype)
    cond = {}
    if isinstance(model, WaveNet):
        cond = {"global_cond": torch.randn(2, 2, dtype=dtype),
                "local_cond": torch.randn(2, 3, 300, dtype=dtype)}
    with torch.no_grad():
        expected = model(x, **cond).numpy()
    y = numpy_model(x.numpy(), **{k: v.numpy() for k, v in cond.items()})
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert y.dtype == expected.dtype
    assert np.max(np.abs(y - expected)) <= tol * np.max(np.abs(expected))
    for name, value in numpy_model.params.items():
        assert value.dtype == (np.float32 if dtype == torch.float32 else np.float64), name


def test_weight_norm_is_folded_exactly():
    """The file holds g * v / ||v|| (norm over all but the output axis), in float64."""
    torch.manual_seed(2)
    model = TCN(3, [5], kernel_size=4).double()
    conv = model.blocks[0].conv1
    g = conv.parametrizations.weight.original0.detach().numpy().copy()
    v = conv.parametrizations.weight.original1.detach().numpy().copy()
    with torch.no_grad():
        conv.parametrizations.weight.original0.mul_(3.0)  # g no longer equals ||v||
    g = g * 3.0
    expected = g * v / np.sqrt((v**2).sum(axis=(1, 2), keepdims=True))
    folded = folded_weight(conv).numpy()
    np.testing.assert_allclose(folded, expected, rtol=1e-14, atol=0)
    assert not np.allclose(folded, v)


def test_the_old_weight_norm_api_is_folded_too():
    conv = CausalConv1d(2, 3, kernel_size=3, dilation=2).double()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        conv = torch.nn.utils.weight_norm(conv)
    with torch.no_grad():
        conv.weight_g.mul_(0.5)
    g, v = conv.weight_g.detach().numpy().copy(), conv.weight_v.detach().numpy().copy()
    expected = g * v / np.sqrt((v**2).sum(axis=(1, 2), keepdims=True))
    np.testing.assert_allclose(folded_weight(conv).numpy(), expected, rtol=1e-14, atol=0)


def test_file_format_is_plain_npz_with_a_json_header(tcn_file):
    model, path = tcn_file
    with np.load(path, allow_pickle=False) as data:  # no pickle anywhere
        names = set(data.files)
        header = json.loads(str(data["__config__"]))
    # a causal model with none of the options of version 2 is written as version 1
    assert header["format"] == "wavedil-model" and header["format_version"] == 1
    assert header["architecture"] == "TCN" and header["config"] == model.config
    assert "wavedil_version" in header
    assert names == {"__config__"} | set(NumpyTCN(**model.config).param_shapes())
    meta, arrays = read(path)
    assert meta == header and "__config__" not in arrays


def test_numpy_model_save_and_load_round_trip(tmp_path):
    model = NumpyTCN(1, 4, dilations=[1, 2, 4], seed=3)
    model.save(tmp_path / "a.npz")
    again = load(tmp_path / "a.npz")
    x = np.random.default_rng(0).standard_normal(100)
    np.testing.assert_array_equal(again(x), model(x))
    model.save(tmp_path / "a.npz")  # overwrite in place, no temporary left behind
    assert os.listdir(tmp_path) == ["a.npz"]


def test_missing_array_is_named(tcn_file):
    path = rewrite(tcn_file[1], **{"blocks.1.conv2.weight": None})
    with pytest.raises(ValueError, match=r"missing parameter array\(s\): 'blocks.1.conv2.weight' "
                                         r"\(expected shape \(8, 8, 3\)\)"):
        load(path)


def test_misshaped_array_is_named(tcn_file):
    path = rewrite(tcn_file[1], **{"head.weight": np.zeros((1, 4, 2), np.float32)})
    with pytest.raises(ValueError, match=r"'head.weight' has shape \(1, 4, 2\), expected "
                                         r"\(1, 4, 1\)"):
        load(path)


def test_unexpected_array_is_named(tcn_file):
    path = rewrite(tcn_file[1], **{"blocks.9.conv1.weight": np.zeros(3)})
    with pytest.raises(ValueError, match="unexpected parameter.*blocks.9.conv1.weight"):
        load(path)


def test_unknown_architecture_is_named(tcn_file):
    path = rewrite(tcn_file[1], header={"architecture": "Transformer"})
    with pytest.raises(ValueError, match="unknown architecture 'Transformer', expected one of "
                                         r"\['NAM', 'Stack', 'TCN', 'WaveNet'\]"):
        load(path)


def test_newer_format_version_is_refused(tcn_file):
    path = rewrite(tcn_file[1], header={"format_version": FORMAT_VERSION + 1,
                                        "wavedil_version": "9.0"})
    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1} is newer than "
                                         f"this wavedil reads \\(up to {FORMAT_VERSION}; written "
                                         f"by wavedil 9.0\\)"):
        load(path)


def test_config_that_does_not_fit_is_named(tcn_file):
    config = dict(tcn_file[0].config, depth=3)
    path = rewrite(tcn_file[1], header={"config": config})
    with pytest.raises(ValueError, match="TCN config does not fit.*depth"):
        load(path)


def test_other_files_are_not_model_files(tmp_path):
    np.savez(tmp_path / "plain.npz", weight=np.ones(3))
    with pytest.raises(ValueError, match="not a wavedil model file: no '__config__' entry"):
        load(tmp_path / "plain.npz")
    np.savez(tmp_path / "other.npz", __config__=np.array(json.dumps({"format": "keras"})))
    with pytest.raises(ValueError, match="expected format 'wavedil-model', got 'keras'"):
        load(tmp_path / "other.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="not a wavedil model file"):
        load(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.npz")


def test_export_refuses_foreign_modules(tmp_path):
    with pytest.raises(TypeError, match="expected a wavedil.nn TCN, WaveNet or Stack, got Conv1d"):
        export(torch.nn.Conv1d(1, 1, 3), tmp_path / "x.npz")


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_model_file_gets_the_mode_of_a_normal_write(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = tmp_path / "m.npz"
        NumpyTCN(1, [2], out_channels=1).save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
        os.chmod(path, 0o640)  # a file it replaces keeps its mode
        NumpyTCN(1, [2], out_channels=1).save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    finally:
        os.umask(old)


ALIGNED = {
    "tcn-centered": lambda: TCN(2, [6, 4], kernel_size=4, dilations=[1, 3], out_channels=1,
                                alignment="centered"),
    "tcn-options": lambda: TCN(1, [6, 6, 4], kernel_size=3, alignment=[
        (1, 1), (0, 2), (4, 0), (2, 2), (3, 5), (8, 0)], activation="gelu", norm="layer_norm",
        gate=True, skip_connections=True, output_activation="tanh"),
    "wavenet-centered": lambda: WaveNet(1, 6, 8, 5, kernel_size=3, dilations=[1, 4],
                                        local_cond_channels=2, alignment="centered"),
    "stack-per-layer": lambda: Stack([{"channels": 4, "kernel_size": 3, "dilation": 2,
                                       "alignment": "centered"},
                                      {"channels": 4, "kernel_size": 2, "dilation": 3,
                                       "residual": True, "alignment": (1, 2)},
                                      {"channels": 1, "activation": None}], in_channels=1),
}


@pytest.mark.parametrize("name", sorted(ALIGNED))
def test_alignment_and_options_survive_export_and_load(name, tmp_path):
    torch.manual_seed(2)
    model = ALIGNED[name]().double().eval()
    with torch.no_grad():  # layer norms away from their identity initialisation
        for pname, p in model.named_parameters():
            if "norm" in pname:
                p.add_(0.3 * torch.randn_like(p))
    export(model, tmp_path / "m.npz")
    meta, _ = read(tmp_path / "m.npz")
    assert meta["format_version"] == 2 and meta["config"] == model.config
    numpy_model = load(tmp_path / "m.npz")
    assert numpy_model.config == model.config and numpy_model.latency == model.latency > 0
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, model.in_channels, 90))
    cond = {"local_cond": rng.standard_normal((2, 2, 90))} if "wavenet" in name else {}
    with torch.no_grad():
        expected = model(torch.from_numpy(x), **{k: torch.from_numpy(v)
                                                  for k, v in cond.items()}).numpy()
    np.testing.assert_allclose(numpy_model(x, **cond), expected, rtol=0,
                               atol=1e-12 * np.abs(expected).max())


def test_a_file_without_alignment_loads_as_causal(tcn_file):
    """Version-1 files (no ``alignment`` in their config) are causal models."""
    meta, _ = read(tcn_file[1])
    assert "alignment" not in meta["config"]
    model = load(tcn_file[1])
    assert model.latency == 0 and all(right == 0 for _, right in model.extents.values())
    centered = load(rewrite(tcn_file[1], header={"config": dict(meta["config"],
                                                                 alignment="centered")}))
    assert centered.latency == 2 * (1 + 2 + 4)  # (K - 1) d / 2 per conv, two per block


def test_an_older_reader_is_told_the_version(tmp_path):
    NumpyTCN(1, 4, dilations=[1, 2], alignment="centered").save(tmp_path / "c.npz")
    path = rewrite(tmp_path / "c.npz")
    meta, _ = read(path)
    assert meta["format_version"] == 2 == FORMAT_VERSION
