"""Numpy stacks (wavedil.models.stack): the streaming contract, causality, receptive fields, state.

The torch twins are the oracle for the architectures themselves (tests/test_nn.py); here
the numpy models are checked on their own: any chunking equals the offline call, outputs
on prefixes are prefixes, the receptive field read from the spec tree equals the support
of the impulse response, and a stream saved in one process continues in another.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wavedil.engine.spec import Branches, Chain, LayerSpec
from wavedil.models.stack import ACTIVATIONS, TCN, Stack, WaveNet, activate, stack_plan, tcn_plan

TOL = {np.float32: 1e-5, np.float64: 1e-12}

MODELS = {
    "tcn": TCN(2, [4, 6, 6], kernel_size=3, out_channels=1, seed=1),
    "tcn_k2_stacks": TCN(1, 5, kernel_size=2, dilations=[1, 3], stacks=2, seed=2),
    "wavenet": WaveNet(2, 6, 8, 5, out_channels=3, kernel_size=2, dilations=[1, 2, 4],
                       stacks=2, seed=3),
    "wavenet_cond": WaveNet(1, 6, 8, 5, kernel_size=3, dilations=[1, 4],
                            global_cond_channels=2, local_cond_channels=3, seed=4),
    "stack": Stack([{"channels": 4, "kernel_size": 3, "dilation": 2, "activation": "gelu"},
                    {"channels": 4, "kernel_size": 2, "dilation": 5, "residual": True,
                     "activation": "tanh"},
                    {"channels": 4, "kernel_size": 2, "dilation": 3, "groups": 2,
                     "activation": "leaky_relu"},
                    {"channels": 2, "activation": "elu"}], in_channels=2, seed=5),
}


def past_extent(tree) -> int:
    """Longest path of a spec tree: extents add along a Chain, the max over Branches."""
    if isinstance(tree, LayerSpec):
        return (tree.kernel_size - 1) * tree.dilation - tree.right
    if isinstance(tree, Chain):
        return sum(past_extent(part) for part in tree.parts)
    assert isinstance(tree, Branches)
    return max(past_extent(part) for part in tree.parts)


def close(a, b, dtype):
    assert a.shape == b.shape and a.dtype == b.dtype == dtype
    if a.size:
        scale = max(np.max(np.abs(b)), 1e-30)
        assert np.max(np.abs(a - b)) <= TOL[dtype] * scale, np.max(np.abs(a - b)) / scale


def conditioning(model, batch, n, dtype, rng):
    """Keyword arguments of a model's conditioning for a (batch, C, n) input (None: 2-D)."""
    if not isinstance(model, WaveNet):
        return {}
    c, cond = model.config, {}
    lead = () if batch is None else (batch,)
    if c["global_cond_channels"]:
        cond["global_cond"] = rng.standard_normal(lead + (c["global_cond_channels"],)).astype(dtype)
    if c["local_cond_channels"]:
        cond["local_cond"] = rng.standard_normal(lead + (c["local_cond_channels"], n)).astype(dtype)
    return cond


def feed(stream, x, sizes, cond):
    """Chunks of ``sizes`` (cycled) with their slices of the local conditioning, then flush."""
    parts, start, i = [], 0, 0
    if not any(sizes):
        sizes = list(sizes) + [x.shape[-1]]
    while start < x.shape[-1] or i == 0:
        stop = start + sizes[i % len(sizes)]
        chunk_cond = {k: (v[..., start:stop] if k == "local_cond" else v) for k, v in cond.items()}
        parts.append(stream.process(x[..., start:stop], **chunk_cond))
        start, i = stop, i + 1
    parts.append(stream.flush())
    return np.concatenate(parts, axis=-1)


def signal(model, batch, n, dtype, rng):
    shape = (model.in_channels, n) if batch is None else (batch, model.in_channels, n)
    if batch is None and model.in_channels == 1:
        shape = (n,)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("name", sorted(MODELS))
@settings(max_examples=25)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       batch=st.sampled_from([None, 1, 3]))
def test_any_chunking_equals_offline(name, data, dtype, batch):
    model = MODELS[name]
    rf = model.receptive_field
    n = data.draw(st.integers(0, 3 * rf + 5), label="length")
    sizes = data.draw(st.lists(st.one_of(st.integers(0, 3), st.sampled_from([5, 7, 13, 31]),
                                         st.integers(rf, 2 * rf + 1)),
                               min_size=1, max_size=8), label="chunk sizes")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    x = signal(model, batch, n, dtype, rng)
    cond = conditioning(model, batch if x.ndim == 3 else None, n, dtype, rng)
    y = model(x, **cond)
    stream_batch = batch if x.ndim == 3 else None
    close(feed(model.stream(stream_batch), x, sizes, cond), y, dtype)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_long_input_runs_in_blocks_equal_to_one_stream(name, monkeypatch, rng):
    """Offline runs in blocks of BLOCK samples; a smaller block gives the same output."""
    import wavedil.models.base as model_module

    model = MODELS[name]
    x = signal(model, 2, 700, np.float64, rng)
    cond = conditioning(model, 2, 700, np.float64, rng)
    y = model(x, **cond)
    monkeypatch.setattr(model_module, "BLOCK", 37)
    close(model(x, **cond), y, np.float64)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_causal_on_prefixes(name, rng):
    model = MODELS[name]
    x = signal(model, 3, 300, np.float64, rng)
    cond = conditioning(model, 3, 300, np.float64, rng)
    y = model(x, **cond)
    for n in (0, 1, 17, model.receptive_field, 299):
        prefix = {k: (v[..., :n] if k == "local_cond" else v) for k, v in cond.items()}
        close(model(x[..., :n], **prefix), y[..., :n], np.float64)


def _biased(model):
    """The same architecture with biases +3, so that every ReLU path is active."""
    params = {k: (np.full_like(v, 3.0) if k.endswith(".bias") else v)
              for k, v in model.params.items()}
    return type(model)(**model.config, params=params)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_receptive_field_equals_impulse_response_support(name, rng):
    model = _biased(MODELS[name])
    rf = 1 + past_extent(model.spec)
    assert model.receptive_field == rf
    n, at = 3 * rf + 20, rf + 3
    x = signal(model, 1, n, np.float64, rng)
    cond = conditioning(model, 1, n, np.float64, rng)
    bumped = x.copy()
    bumped[:, :, at] += 1.0
    diff = np.abs(model(bumped, **cond) - model(x, **cond)).max(axis=(0, 1))
    support = np.flatnonzero(diff)
    assert support[0] == at and support[-1] == at + rf - 1, (support, rf)


def test_receptive_fields_in_closed_form():
    # TCN: two convs of (K-1)d per block; WaveNet: input conv plus every gated conv
    assert TCN(1, 8, kernel_size=3, dilations=[2**i for i in range(9)]).receptive_field \
        == 1 + 2 * 2 * 511
    assert WaveNet(1, 4, 4, 4, kernel_size=2, stacks=2).receptive_field == 1 + 1 + 2 * 1023
    assert MODELS["tcn_k2_stacks"].receptive_field == 1 + 2 * (1 + 3) * 2


def test_spec_trees_have_the_documented_shape():
    spec = MODELS["tcn"].spec
    assert isinstance(spec, Chain) and len(spec.parts) == 4  # 3 blocks + head
    first = spec.parts[0]
    assert isinstance(first, Branches) and first.parts[0].name == "blocks.0.downsample"
    assert [p.name for p in first.parts[1].parts] == ["blocks.0.conv1", "blocks.0.conv2"]
    assert spec.parts[2].parts[0] == Chain(())  # same width (6 -> 6): identity residual
    wn = MODELS["wavenet"].spec
    prefixes = wn.parts[1]
    assert isinstance(prefixes, Branches) and len(prefixes.parts) == 6
    assert prefixes.parts[0].parts[-1].name == "layers.0.skip"
    assert len(prefixes.parts[5].parts) == 5 + 2  # five residual layers, gate conv, skip


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_state_round_trip_in_process(name, dtype, rng):
    model = MODELS[name]
    x = signal(model, 2, 200, dtype, rng)
    cond = conditioning(model, 2, 200, dtype, rng)
    first = {k: (v[..., :77] if k == "local_cond" else v) for k, v in cond.items()}
    rest = {k: (v[..., 77:] if k == "local_cond" else v) for k, v in cond.items()}
    stream = model.stream(2)
    head = stream.process(x[..., :77], **first)
    state = {k: v.copy() for k, v in stream.state_dict().items()}
    expected = stream.process(x[..., 77:], **rest)
    again = model.stream(2)
    again.load_state_dict(state)
    np.testing.assert_array_equal(again.process(x[..., 77:], **rest), expected)
    close(np.concatenate([head, expected], -1), model(x, **cond), dtype)
    stream.reset()
    np.testing.assert_array_equal(stream.process(x, **cond), model(x, **cond))


def test_tcn_state_keeps_the_engine_layout(rng):
    """The fused chain runs time-major, but its state is the engine's (B, C_in, n): the
    first conv's history is the input's last span samples, as a DilatedConv1d stream's."""
    model = MODELS["tcn"]
    x = rng.standard_normal((3, 2, 90))
    stream = model.stream(3)
    stream.process(x)
    span = 2 * model.config["dilations"][0]
    state = stream.state_dict()
    np.testing.assert_array_equal(state["blocks.0.conv1.history"], x[..., -span:])
    engine = model.dilated_convs["blocks.0.conv1"].stream(3)
    engine.process(x)
    np.testing.assert_array_equal(engine.state_dict()["history"], x[..., -span:])
    broken = dict(state, **{"blocks.1.conv2.history": np.zeros((3, 6, 99))})
    again = model.stream(3)
    with pytest.raises(ValueError, match=r"blocks\.1\.conv2\.history.*\(3, 6, 99\)"):
        again.load_state_dict(broken)


# The state_dict of these streams as the code before the typed state (commit 2de28c5) wrote
# it, after one 5-sample chunk of batch 2 in float64: key -> shape. Saved states must load.
SAVED_BEFORE = {
    "tcn": ({"blocks.0.conv1.history": (2, 2, 2), "blocks.0.conv2.history": (2, 3, 2),
             "blocks.1.conv1.history": (2, 3, 4), "blocks.1.conv2.history": (2, 4, 4)},
            {"op": "TCN", "in_channels": 2, "channels": [3, 4], "kernel_size": 3,
             "dilations": [1, 2], "out_channels": 1}),
    "wavenet": ({"input_conv.history": (2, 1, 2), "layers.0.conv.history": (2, 4, 1),
                 "layers.1.conv.history": (2, 4, 2)},
                {"op": "WaveNet", "in_channels": 1, "residual_channels": 4,
                 "gate_channels": 6, "skip_channels": 3, "out_channels": 1, "kernel_size": 2,
                 "input_kernel_size": 3, "dilations": [1, 2], "global_cond_channels": 2,
                 "local_cond_channels": 1}),
    "stack": ({"layers.0.history": (2, 2, 4), "layers.2.history": (2, 2, 1)}, None),
}
SMALL = {
    "tcn": lambda: TCN(2, [3, 4], kernel_size=3, out_channels=1, seed=1),
    "wavenet": lambda: WaveNet(1, 4, 6, 3, kernel_size=2, dilations=[1, 2],
                               global_cond_channels=2, local_cond_channels=1,
                               input_kernel_size=3, seed=2),
    "stack": lambda: Stack([{"channels": 4, "kernel_size": 3, "dilation": 2},
                            {"channels": 2, "kernel_size": 1},
                            {"channels": 2, "kernel_size": 2, "groups": 2}], in_channels=2),
}


@pytest.mark.parametrize("name", sorted(SAVED_BEFORE))
def test_states_keep_the_keys_and_shapes_saved_before(name, rng):
    """Same keys, shapes, meta; and a state written in that format (built here from plain
    arrays, as an old file holds them) continues like the stream that wrote it."""
    model, (shapes, config) = SMALL[name](), SAVED_BEFORE[name]
    cond = conditioning(model, 2, 12, np.float64, rng)
    x = signal(model, 2, 12, np.float64, rng)
    head = {k: (v[..., :5] if k == "local_cond" else v) for k, v in cond.items()}
    tail = {k: (v[..., 5:] if k == "local_cond" else v) for k, v in cond.items()}
    stream = model.stream(2)
    stream.process(x[..., :5], **head)
    state = stream.state_dict()
    meta = json.loads(str(state["meta"]))
    assert {k: v.shape for k, v in state.items() if k != "meta"} == shapes
    assert meta["layout"] == [3, 2, "<f8"] and meta["flushed"] is False
    if config is not None:
        assert meta["config"] == config
    old = {k: np.array(v, copy=True) for k, v in state.items() if k != "meta"}
    old["meta"] = np.array(json.dumps(meta))
    again = model.stream(2)
    again.load_state_dict(old)
    np.testing.assert_array_equal(again.process(x[..., 5:], **tail),
                                  stream.process(x[..., 5:], **tail))


def test_reset_and_load_replace_the_state_object(rng):
    """The stream's memory is one typed object, replaced (never patched) by reset/load."""
    model = MODELS["tcn"]
    stream = model.stream(1)
    stream.process(rng.standard_normal((1, 2, 30)))
    first = stream.state
    assert sorted(first.histories) == sorted(model.dilated_convs)
    saved = stream.state_dict()
    stream.load_state_dict(saved)
    assert stream.state is not first
    stream.reset()
    assert stream.state is None and stream.children() == {}
    assert set(MODELS["stack"].stream().children()) == set(MODELS["stack"].dilated_convs)


def test_state_of_another_configuration_is_rejected(rng):
    stream = MODELS["tcn"].stream()
    stream.process(rng.standard_normal((2, 50)))
    other = TCN(2, [4, 6, 8], kernel_size=3, out_channels=1).stream()
    with pytest.raises(ValueError, match="channels"):
        other.load_state_dict(stream.state_dict())


@pytest.mark.slow
def test_state_continues_bit_for_bit_in_a_fresh_process(tmp_path, rng):
    model = MODELS["wavenet_cond"]
    x = rng.standard_normal((1, 1, 400))
    cond = conditioning(model, 1, 400, np.float64, rng)
    model.save(tmp_path / "model.npz")
    stream = model.stream(1)
    stream.process(x[..., :150], global_cond=cond["global_cond"],
                   local_cond=cond["local_cond"][..., :150])
    np.savez(tmp_path / "state.npz", **stream.state_dict())
    np.savez(tmp_path / "rest.npz", x=x[..., 150:], g=cond["global_cond"],
             c=cond["local_cond"][..., 150:])
    expected = stream.process(x[..., 150:], global_cond=cond["global_cond"],
                              local_cond=cond["local_cond"][..., 150:])
    script = textwrap.dedent("""
        import sys
        import numpy as np
        from wavedil.models.loader import load
        folder = sys.argv[1]
        model = load(folder + "/model.npz")
        stream = model.stream(1)
        stream.load_state_dict(dict(np.load(folder + "/state.npz")))
        rest = np.load(folder + "/rest.npz")
        y = stream.process(rest["x"], global_cond=rest["g"], local_cond=rest["c"])
        np.save(folder + "/out.npy", y)
    """)
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)
    close(np.concatenate([stream_head(model, x, cond), expected], -1), model(x, **cond),
          np.float64)


def stream_head(model, x, cond):
    return model(x[..., :150], global_cond=cond["global_cond"],
                 local_cond=cond["local_cond"][..., :150])


@pytest.mark.slow
def test_import_wavedil_and_run_a_model_file_without_torch(tmp_path):
    MODELS["tcn"].save(tmp_path / "tcn.npz")
    script = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None  # any `import torch` now fails
        import numpy as np
        import wavedil, wavedil.models.stack, wavedil.models.file
        model = wavedil.models.loader.load(sys.argv[1])
        print(model(np.ones((2, 30))).shape)
        try:
            import wavedil.nn
        except ImportError:
            print("nn needs torch")
    """)
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "tcn.npz")],
                         check=True, capture_output=True, text=True).stdout
    assert out.split("\n")[:2] == ["(1, 30)", "nn needs torch"]


def test_dtypes_follow_the_input(rng):
    model = MODELS["tcn"]
    assert model(rng.standard_normal((2, 10)).astype(np.float32)).dtype == np.float32
    assert model(np.ones((2, 10), dtype=np.int16)).dtype == np.float64
    with pytest.raises(TypeError, match="complex128"):
        model(np.ones((2, 10), dtype=complex))


def test_input_and_conditioning_errors_quote_the_shapes(rng):
    with pytest.raises(ValueError, match="expected 2 input channels, got 3"):
        MODELS["tcn"](np.ones((3, 10)))
    model = MODELS["wavenet_cond"]
    x = np.ones((2, 1, 10))
    g, c = np.ones((2, 2)), np.ones((2, 3, 10))
    with pytest.raises(ValueError, match=r"needs global_cond with 2 channels"):
        model(x, local_cond=c)
    with pytest.raises(ValueError, match=r"expected local_cond of shape \(2, 3, 10\).*\(2, 3, 9\)"):
        model(x, global_cond=g, local_cond=c[..., :9])
    with pytest.raises(ValueError, match="has no global_cond"):
        MODELS["wavenet"](np.ones((2, 10)), global_cond=np.ones(2))
    stream = model.stream(2)
    with pytest.raises(ValueError, match=r"expected global_cond of shape \(2, 2\)"):
        stream.process(x, global_cond=np.ones(2), local_cond=c)
    # the rejected chunk left the stream untouched: it still takes 2-D chunks... of batch 2 only
    assert stream.layout is None
    close(np.concatenate([stream.process(x[..., :4], global_cond=g, local_cond=c[..., :4]),
                          stream.process(x[..., 4:], global_cond=g, local_cond=c[..., 4:])], -1),
          model(x, global_cond=g, local_cond=c), np.float64)


def test_parameter_errors_name_the_array():
    params = dict(MODELS["tcn"].params)
    del params["blocks.1.conv2.bias"]
    with pytest.raises(ValueError, match=r"'blocks.1.conv2.bias' \(expected shape \(6,\)\)"):
        TCN(2, [4, 6, 6], kernel_size=3, out_channels=1, params=params)
    params = dict(MODELS["tcn"].params, **{"blocks.0.conv1.weight": np.ones((4, 2, 2))})
    with pytest.raises(ValueError, match=r"'blocks.0.conv1.weight' has shape \(4, 2, 2\), "
                                         r"expected \(4, 2, 3\)"):
        TCN(2, [4, 6, 6], kernel_size=3, out_channels=1, params=params)
    params = dict(MODELS["tcn"].params, extra=np.ones(3))
    with pytest.raises(ValueError, match="unexpected.*'extra'"):
        TCN(2, [4, 6, 6], kernel_size=3, out_channels=1, params=params)


def test_plans_and_their_errors():
    assert tcn_plan([8, 8, 16], None) == ([8, 8, 16], [1, 2, 4])
    assert tcn_plan(4, [1, 5]) == ([4, 4], [1, 5])
    with pytest.raises(ValueError, match="channels: expected 4 widths.*got 3"):
        tcn_plan([8, 8, 8], [1, 2], stacks=2)
    with pytest.raises(ValueError, match="channels as a list"):
        tcn_plan(8)
    with pytest.raises(ValueError, match="gate_channels must be even, .*got 7|got 7"):
        WaveNet(gate_channels=7)
    in_channels, plan = stack_plan([LayerSpec(kernel_size=3, dilation=2, in_channels=2,
                                              out_channels=4)])
    assert in_channels == 2 and plan[0]["kernel_size"] == 3 and plan[0]["activation"] == "relu"
    _, plan = stack_plan([LayerSpec(kernel_size=3, right=1, in_channels=1, out_channels=1)])
    assert plan[0]["alignment"] == [1, 1]  # a LayerSpec's extent is kept
    with pytest.raises(ValueError, match="stride 1"):
        stack_plan([LayerSpec(kernel_size=3, stride=2, in_channels=1, out_channels=1)])
    with pytest.raises(ValueError, match=r"must be >= 0 and add up to the span .* = 4, got "
                                         r"\(1, 2\)"):
        stack_plan([{"channels": 1, "kernel_size": 3, "dilation": 2, "alignment": (1, 2)}],
                   in_channels=1)
    with pytest.raises(ValueError, match="layer 1: expected 4 input channels, got in_channels=3"):
        stack_plan([{"channels": 4}, {"channels": 2, "in_channels": 3}], in_channels=1)
    with pytest.raises(ValueError, match="residual layer keeps its width, expected channels = 4"):
        stack_plan([{"channels": 4}, {"channels": 2, "residual": True}], in_channels=1)
    with pytest.raises(ValueError, match="in_channels is needed"):
        stack_plan([{"channels": 4}])
    with pytest.raises(ValueError, match="activation must be one of"):
        stack_plan([{"channels": 4, "activation": "swish"}], in_channels=1)


def test_activations_match_closed_forms():
    import math

    x = np.linspace(-6, 6, 101)
    expected = {
        "identity": x, "relu": np.maximum(x, 0), "tanh": np.tanh(x),
        "sigmoid": 1 / (1 + np.exp(-x)),
        "gelu": np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x]),
        "elu": np.where(x > 0, x, np.exp(x) - 1), "leaky_relu": np.where(x > 0, x, 0.01 * x),
        "silu": x / (1 + np.exp(-x)),
        # Klambauer et al. (2017): lambda ~ 1.0507, alpha ~ 1.67326
        "selu": 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * (np.exp(x) - 1)),
    }
    assert set(expected) == set(ACTIVATIONS)
    for name, want in expected.items():
        np.testing.assert_allclose(activate(name, x.copy()), want, rtol=1e-13, atol=1e-15)


def test_config_is_json_and_rebuilds_the_model():
    for model in MODELS.values():
        config = json.loads(json.dumps(model.config))
        twin = type(model)(**config, params=model.params)
        assert twin.config == model.config and twin.spec == model.spec


def test_reprs_show_the_configuration():
    stream = MODELS["tcn"].stream(2)
    assert repr(stream) == "TCNStream(op=TCN, latency=0, batch=2)"
    assert repr(MODELS["stack"]).startswith("Stack(in_channels=2")
    stream.process(np.zeros((2, 2, 3)))
    assert "History(lead=(2,), size=2" in repr(stream.state)
