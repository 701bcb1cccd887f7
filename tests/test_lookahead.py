"""Stacks with lookahead: TCN, WaveNet and Stack aligned "centered" or by a (left, right)
extent per conv, in numpy and torch.

The oracles: the DESIGN.md formula of an aligned conv, functional rewrites of the models
with explicit zero padding per conv (``F.pad``) built from the configs, and the impulse
response. Then for any chunking: torch offline == numpy offline == numpy stream == torch
stream, streams hold back exactly the latency the receptive-field tooling reports, and
states interchange between numpy and torch.
"""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
from wavedil.models.stack import TCN as NumpyTCN
from wavedil.models.stack import WaveNet as NumpyWaveNet
from wavedil.nn import TCN, AlignedConv1d, Stack, WaveNet, to_numpy

torch.set_num_threads(2)
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}
NUMPY_DTYPE = {torch.float32: np.float32, torch.float64: np.float64}


def build(seed, make):
    torch.manual_seed(seed)
    model = make().double().eval()
    with torch.no_grad():  # norms away from the identity, weight-norm gains away from ||v||
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("original0"):
                p.add_(0.3 * torch.randn_like(p))
    return {torch.float64: model, torch.float32: copy.deepcopy(model).float()}


MODELS = {
    "tcn_centered": build(0, lambda: TCN(2, [4, 6, 6], kernel_size=3, out_channels=1,
                                         alignment="centered")),
    "tcn_extents_options": build(1, lambda: TCN(
        1, [5, 4, 4], kernel_size=4, dilations=[1, 3, 2],
        alignment=[(0, 3), (2, 1), (9, 0), (4, 5), (1, 5), (3, 3)], activation="silu",
        norm="layer_norm", gate=True, skip_connections=True, output_activation="tanh",
        weight_norm=False)),
    "wavenet_centered_cond": build(2, lambda: WaveNet(
        1, 6, 8, 5, kernel_size=3, dilations=[1, 4, 2], global_cond_channels=2,
        local_cond_channels=3, input_kernel_size=4, alignment="centered")),
    "wavenet_extents": build(3, lambda: WaveNet(
        2, 4, 6, 3, out_channels=1, kernel_size=2, dilations=[1, 2, 4],
        alignment=[(0, 1), (1, 0), (0, 2), (3, 1)])),
    "stack_per_layer": build(4, lambda: Stack(
        [{"channels": 4, "kernel_size": 3, "dilation": 2, "alignment": "centered"},
         {"channels": 4, "kernel_size": 2, "dilation": 5, "residual": True,
          "activation": "tanh", "alignment": (1, 4)},
         {"channels": 4, "kernel_size": 3, "dilation": 3, "groups": 2, "residual": True,
          "activation": "selu", "alignment": (0, 6)},
         {"channels": 2, "activation": None}], in_channels=2, weight_norm=True)),
}
TWINS = {name: {dt: to_numpy(m) for dt, m in pair.items()} for name, pair in MODELS.items()}
LATENCY = {  # the lookahead by hand: each conv's right extent, summed along the chain
    "tcn_centered": 2 * (1 + 2 + 4),
    "tcn_extents_options": 3 + 1 + 0 + 5 + 5 + 3,
    "wavenet_centered_cond": 1 + (1 + 4 + 2),
    "wavenet_extents": 1 + 0 + 2 + 1,
    "stack_per_layer": 2 + 4 + 6,
}


def close(a, b, dtype):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.size:
        scale = max(np.max(np.abs(b)), 1e-30)
        err = np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))
        assert err <= TOL[dtype] * scale, err / scale


def inputs(model, batch, n, dtype, gen):
    x = torch.randn(batch, model.in_channels, n, generator=gen, dtype=torch.float64).to(dtype)
    cond = {}
    if isinstance(model, WaveNet):
        c = model.config
        if c["global_cond_channels"]:
            cond["global_cond"] = torch.randn(batch, c["global_cond_channels"],
                                              generator=gen, dtype=torch.float64).to(dtype)
        if c["local_cond_channels"]:
            cond["local_cond"] = torch.randn(batch, c["local_cond_channels"], n,
                                             generator=gen, dtype=torch.float64).to(dtype)
    return x, cond


def piece(cond, a, b):
    return {k: (v[..., a:b] if k == "local_cond" else v) for k, v in cond.items()}


def spans(n, sizes):
    out, start, i = [], 0, 0
    sizes = sizes if any(sizes) else sizes + [max(n, 1)]
    while start < n or i == 0:
        out.append((start, start + sizes[i % len(sizes)]))
        start, i = out[-1][1], i + 1
    return out


# -- independent formulations ----------------------------------------------------------------
def padded(conv, h, extent):
    """DESIGN.md: zeros, ``left`` before and ``right`` after, then a valid correlation."""
    left, right = extent
    return F.conv1d(F.pad(h, (left, right)), conv.weight, conv.bias, dilation=conv.dilation,
                    groups=conv.groups)


def extents_of(config, names):
    """Each conv's (left, right) from the config alone: a list, or centered per DESIGN.md
    (the centre on the output: floor(span / 2) samples of lookahead)."""
    alignment = config.get("alignment", "causal")
    if isinstance(alignment, list):
        return dict(zip(names, map(tuple, alignment)))
    out = {}
    for name, span in names.items():
        right = span // 2 if alignment == "centered" else 0
        out[name] = (span - right, right)
    return out


ACT = {"relu": F.relu, "tanh": torch.tanh, "silu": F.silu, "gelu": F.gelu, "selu": F.selu,
       "identity": lambda v: v}


def tcn_reference(model, x):
    """pytorch-tcn's block (conv, norm, activation or GLU; conv, norm, activation; residual;
    skips summed with the last output) with explicit padding, from the config."""
    c = model.config
    k = c["kernel_size"]
    names = {f"blocks.{i}.conv{j}": (k - 1) * d for i, d in enumerate(c["dilations"])
             for j in (1, 2)}
    ext = extents_of(c, names)
    act = ACT[c.get("activation", "relu")]

    def norm(layer, h):
        if layer is None:
            return h
        return F.layer_norm(h.transpose(1, 2), layer.weight.shape, layer.weight,
                            layer.bias).transpose(1, 2)
    skips = []
    for i, block in enumerate(model.blocks):
        h = norm(block.norm1, padded(block.conv1, x, ext[f"blocks.{i}.conv1"]))
        h = F.glu(h, dim=1) if c.get("gate") else act(h)
        h = act(norm(block.norm2, padded(block.conv2, h, ext[f"blocks.{i}.conv2"])))
        res = x if block.downsample is None else block.downsample(x)
        if i < len(model.blocks) - 1:
            skips.append(model.skips[str(i)](h) if str(i) in model.skips else h)
        x = act(h + res)
    if c.get("skip_connections"):
        x = act(sum(skips) + x)
    x = x if model.head is None else model.head(x)
    return ACT[c["output_activation"]](x) if c.get("output_activation") else x


def wavenet_reference(model, x, global_cond=None, local_cond=None):
    c = model.config
    names = {"input_conv": c["input_kernel_size"] - 1,
             **{f"layers.{i}.conv": (c["kernel_size"] - 1) * d
                for i, d in enumerate(c["dilations"])}}
    ext = extents_of(c, names)
    h, skips = padded(model.input_conv, x, ext["input_conv"]), []
    for i, layer in enumerate(model.layers):
        a = padded(layer.conv, h, ext[f"layers.{i}.conv"])
        if global_cond is not None:
            a = a + layer.global_cond(global_cond[..., None])
        if local_cond is not None:
            a = a + layer.local_cond(local_cond)
        g = a.shape[1] // 2
        z = torch.tanh(a[:, :g]) * torch.sigmoid(a[:, g:])
        skips.append(layer.skip(z))
        if layer.res is not None:
            h = h + layer.res(z)
    return model.head2(F.relu(model.head1(F.relu(sum(skips)))))


def stack_reference(model, x):
    for conv, lay in zip(model.layers, model.config["layers"]):
        span = (lay["kernel_size"] - 1) * lay["dilation"]
        alignment = lay.get("alignment", "causal")
        extent = (span - span // 2, span // 2) if alignment == "centered" else \
            tuple(alignment) if alignment != "causal" else (span, 0)
        h = {"relu": F.relu, "tanh": torch.tanh, "selu": F.selu,
             "identity": lambda v: v}[lay["activation"]](padded(conv, x, extent))
        x = x + h if lay["residual"] else h
    return x


def test_an_aligned_conv_matches_the_design_formula(rng):
    """y[n] = b + sum_t w[t] x[n - left + t d], zeros outside the signal."""
    conv = AlignedConv1d(3, 2, kernel_size=4, dilation=3, alignment=(4, 5)).double()
    x = rng.standard_normal((2, 3, 40))
    with torch.no_grad():
        y = conv(torch.from_numpy(x)).numpy()
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    expected = np.zeros((2, 2, 40)) + b[:, None]
    for n in range(40):
        for t in range(4):
            k = n - 4 + 3 * t
            if 0 <= k < 40:
                expected[:, :, n] += np.einsum("oc,bc->bo", w[:, :, t], x[:, :, k])
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    assert (conv.left, conv.right, conv.latency) == (4, 5, 5)
    assert AlignedConv1d(1, 1, 4, dilation=3, alignment="centered").latency == 9 // 2


@pytest.mark.parametrize("name", sorted(MODELS))
def test_torch_models_match_independent_formulations(name):
    model = MODELS[name][torch.float64]
    x, cond = inputs(model, 3, 120, torch.float64, torch.Generator().manual_seed(7))
    with torch.no_grad():
        if name.startswith("tcn"):
            reference = tcn_reference(model, x)
        elif name.startswith("wavenet"):
            reference = wavenet_reference(model, x, **cond)
        else:
            reference = stack_reference(model, x)
        close(model(x, **cond).numpy(), reference.numpy(), torch.float64)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_latency_is_the_receptive_field_lookahead(name):
    model, twin = MODELS[name][torch.float64], TWINS[name][torch.float64]
    rf = wavedil.receptive_field(model)
    assert model.latency == twin.latency == rf.latency == rf.right == LATENCY[name]
    assert twin.stream().latency == model.stream().latency == LATENCY[name]
    assert model.receptive_field == twin.receptive_field == rf.size
    assert wavedil.halo(twin) == (rf.left, LATENCY[name])


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@settings(max_examples=8, deadline=None)  # torch calls per chunk are costly
@given(data=st.data(), batch=st.sampled_from([1, 3]))
def test_any_chunking_equals_torch_offline(name, dtype, data, batch):
    """torch offline == numpy offline == numpy stream == torch stream, for any split:
    empty chunks, chunks shorter than the latency, signals shorter than it."""
    model, twin = MODELS[name][dtype], TWINS[name][dtype]
    rf, latency = model.receptive_field, model.latency
    n = data.draw(st.integers(0, 2 * rf + 5), label="length")
    sizes = data.draw(st.lists(st.one_of(st.integers(0, 3), st.sampled_from([5, 7, 13, 31]),
                                         st.integers(latency, rf + 1)), min_size=1,
                               max_size=6), label="chunk sizes")
    gen = torch.Generator().manual_seed(data.draw(st.integers(0, 2**31), label="seed"))
    x, cond = inputs(model, batch, n, dtype, gen)
    ncond = {k: v.numpy() for k, v in cond.items()}
    with torch.no_grad():
        expected = model(x, **cond).numpy()
    torch_stream, numpy_stream = model.stream(batch), twin.stream(batch)
    torch_parts, numpy_parts, seen = [], [], 0
    for a, b in spans(n, sizes):
        b = min(b, n)
        torch_parts.append(torch_stream.process(x[..., a:b], **piece(cond, a, b)).numpy())
        numpy_parts.append(numpy_stream.process(x.numpy()[..., a:b], **piece(ncond, a, b)))
        seen += b - a
        ready = max(0, seen - latency)  # held back: exactly the latency
        assert sum(p.shape[-1] for p in numpy_parts) == ready
        assert sum(p.shape[-1] for p in torch_parts) == ready
    torch_parts.append(torch_stream.flush().numpy())
    numpy_parts.append(numpy_stream.flush())
    y_numpy = twin(x.numpy(), **ncond)
    assert y_numpy.dtype == NUMPY_DTYPE[dtype]
    for y in (y_numpy, np.concatenate(numpy_parts, -1), np.concatenate(torch_parts, -1)):
        close(y, expected, dtype)


def _biased(model):
    """The same model with biases +3 (every ReLU path active: the support is the field)."""
    model = copy.deepcopy(model)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.fill_(3.0)
    return model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_impulse_response_spans_past_and_lookahead(name):
    """A bump at input ``at`` moves outputs ``at - latency .. at + past`` (numpy), and the
    gradient of output ``out`` reaches inputs ``out - past .. out + latency`` (torch)."""
    model = _biased(MODELS[name][torch.float64])
    twin = to_numpy(model)
    rf, latency = model.receptive_field, model.latency
    past = rf - 1 - latency
    n, at = 3 * rf + 20, rf + 3
    x, cond = inputs(model, 1, n, torch.float64, torch.Generator().manual_seed(1))
    ncond = {k: v.numpy() for k, v in cond.items()}
    bumped = x.numpy().copy()
    bumped[:, :, at] += 1.0
    diff = np.abs(twin(bumped, **ncond) - twin(x.numpy(), **ncond)).max(axis=(0, 1))
    support = np.flatnonzero(diff)
    assert (support[0], support[-1]) == (at - latency, at + past)
    x.requires_grad_(True)
    model(x, **cond)[..., at].sum().backward()
    reached = torch.nonzero(x.grad.abs().sum(dim=(0, 1))).flatten()
    assert (reached.min().item(), reached.max().item()) == (at - past, at + latency)


@pytest.mark.parametrize("name", ["tcn_extents_options", "tcn_centered", "wavenet_centered_cond",
                                  "stack_per_layer"])
@pytest.mark.parametrize("saved_by", ["numpy", "torch"])
@settings(max_examples=6, deadline=None)
@given(split=st.integers(0, 60))
def test_numpy_and_torch_states_interchange_with_delay_lines(name, saved_by, split):
    """Conv histories, delay lines and the global conditioning: a state saved on one side
    continues on the other to the same offline output (the flush included)."""
    dtype = torch.float64
    model, twin = MODELS[name][dtype], TWINS[name][dtype]
    x, cond = inputs(model, 2, 60, dtype, torch.Generator().manual_seed(split))
    with torch.no_grad():
        expected = model(x, **cond).numpy()
    head, tail = piece(cond, 0, split), piece(cond, split, 60)
    as_numpy = {k: v.numpy() for k, v in head.items()}
    first = twin.stream(2) if saved_by == "numpy" else model.stream(2)
    y0 = np.asarray(first.process(x[..., :split].numpy() if saved_by == "numpy"
                                  else x[..., :split], **(as_numpy if saved_by == "numpy"
                                                          else head)))
    state = {k: np.array(v) for k, v in first.state_dict().items()}
    assert any(".res_delay.history" in k or "res_delays." in k for k in state) or split == 0
    second = model.stream(2) if saved_by == "numpy" else twin.stream(2)
    second.load_state_dict(state)
    rest = x[..., split:] if saved_by == "numpy" else x[..., split:].numpy()
    rest_cond = tail if saved_by == "numpy" else {k: v.numpy() for k, v in tail.items()}
    y1 = np.asarray(second.process(rest, **rest_cond))
    close(np.concatenate([y0, y1, np.asarray(second.flush())], -1), expected, dtype)


def test_delays_are_derived_from_the_extents():
    twin = TWINS["tcn_extents_options"][torch.float64]
    # block lookaheads 3 + 1, 0 + 5, 5 + 3: residuals wait that long, skips for the rest
    assert twin.delays() == {"blocks.0.res_delay": (5, 4), "blocks.1.res_delay": (4, 5),
                             "blocks.2.res_delay": (4, 8), "skip_delays.0": (4, 13),
                             "skip_delays.1": (4, 8)}
    wavenet = TWINS["wavenet_centered_cond"][torch.float64]
    assert wavenet.delays() == {
        "layers.0.res_delay": (6, 1), "layers.0.skip_delay": (5, 6), "layers.0.cond_delay": (3, 2),
        "layers.1.res_delay": (6, 4), "layers.1.skip_delay": (5, 2), "layers.1.cond_delay": (3, 4),
        "layers.2.cond_delay": (3, 2)}
    assert NumpyTCN(1, 4, dilations=[1, 2]).delays() == {}  # causal: no delay line


def test_a_streaming_block_is_refused_with_lookahead():
    model = MODELS["tcn_centered"][torch.float32]
    with pytest.raises(ValueError, match=r"holds back 14 samples of lookahead: use s = "
                                         r"module.stream\(2\)"):
        with model.streaming(2):
            pass


def test_alignment_errors_name_the_conv():
    with pytest.raises(ValueError, match=r"a list of 4 \(left, right\) pairs, one per conv "
                                         r"\(blocks.0.conv1, blocks.0.conv2, blocks.1.conv1, "
                                         r"blocks.1.conv2\)"):
        NumpyTCN(1, 4, dilations=[1, 2], alignment=[(1, 1)])
    with pytest.raises(ValueError, match=r"alignment of blocks.1.conv2: .* span \(K-1\)\*dilation "
                                         r"= 4, got \(1, 1\)"):
        NumpyTCN(1, 4, dilations=[1, 2], alignment=[(1, 1), (2, 0), (4, 0), (1, 1)])
    with pytest.raises(ValueError, match="alignment must be one of"):
        NumpyWaveNet(alignment="future")
    assert NumpyTCN(1, 4, dilations=[1, 2], alignment=[(2, 0)] * 2 + [(4, 0)] * 2).config == \
        NumpyTCN(1, 4, dilations=[1, 2]).config  # causal pairs: a causal model


def test_long_inputs_blocks_and_dask_chunks_keep_the_lookahead(monkeypatch):
    """Offline runs in blocks of BLOCK samples and Dask splits with the halo (past,
    lookahead): both equal one stream over the whole signal."""
    import dask.array as da

    import wavedil.dask
    import wavedil.models.base as model_module

    twin = TWINS["tcn_extents_options"][torch.float64]
    x = np.random.default_rng(3).standard_normal((2, 1, 700))
    stream = twin.stream()
    expected = np.concatenate([stream.process(x), stream.flush()], -1)
    y = wavedil.dask.apply(twin, da.from_array(x, chunks=(2, 1, 150))).compute()
    close(y, expected, torch.float64)
    monkeypatch.setattr(model_module, "BLOCK", 37)
    close(twin(x), expected, torch.float64)
