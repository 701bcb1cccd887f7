"""Torch modules (wavedil.nn) and their numpy twins: the exactness matrix.

For TCN, WaveNet (with and without conditioning) and the generic Stack, in float32 and
float64, batch 1 and 3, any chunking: torch offline == numpy offline == numpy streaming ==
torch streaming (DESIGN.md tolerances). The torch modules themselves are checked against
independent formulations: the causal conv against the formula of DESIGN.md, the TCN block
against locuslab/TCN's padding-and-chomp code, the WaveNet against a functional rewrite.
"""

import copy
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from wavedil.nn import TCN, CausalConv1d, Stack, WaveNet, to_numpy

torch.set_num_threads(2)
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


def build(seed, make):
    torch.manual_seed(seed)
    model = make().double().eval()
    with torch.no_grad():  # non-trivial weight-norm gains
        for name, p in model.named_parameters():
            if name.endswith("original0"):
                p.mul_(torch.empty_like(p).uniform_(0.5, 2.0))
    return {torch.float64: model, torch.float32: copy.deepcopy(model).float()}


MODELS = {
    "tcn": build(0, lambda: TCN(2, [4, 6, 6], kernel_size=3, out_channels=1, dropout=0.2)),
    "tcn_k2": build(1, lambda: TCN(1, 5, kernel_size=2, dilations=[1, 3], stacks=2)),
    "wavenet": build(2, lambda: WaveNet(2, 6, 8, 5, out_channels=3, dilations=[1, 2, 4],
                                        stacks=2)),
    "wavenet_cond": build(3, lambda: WaveNet(1, 6, 8, 5, kernel_size=3, dilations=[1, 4],
                                             global_cond_channels=2, local_cond_channels=3)),
    "stack": build(4, lambda: Stack(
        [{"channels": 4, "kernel_size": 3, "dilation": 2, "activation": "gelu"},
         {"channels": 4, "kernel_size": 2, "dilation": 5, "residual": True, "activation": "tanh"},
         {"channels": 4, "kernel_size": 2, "dilation": 3, "groups": 2, "activation": "sigmoid"},
         {"channels": 2, "activation": "elu"}], in_channels=2, weight_norm=True)),
}
TWINS = {name: {dt: to_numpy(m) for dt, m in pair.items()} for name, pair in MODELS.items()}
NUMPY_DTYPE = {torch.float32: np.float32, torch.float64: np.float64}


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


def spans(n, sizes):
    out, start, i = [], 0, 0
    sizes = sizes if any(sizes) else sizes + [n]
    while start < n or i == 0:
        out.append((start, start + sizes[i % len(sizes)]))
        start, i = out[-1][1], i + 1
    return out


def piece(cond, a, b):
    return {k: (v[..., a:b] if k == "local_cond" else v) for k, v in cond.items()}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@settings(max_examples=10)  # torch calls per chunk are costly
@given(data=st.data(), batch=st.sampled_from([1, 3]))
def test_exactness_matrix(name, dtype, data, batch):
    model, twin = MODELS[name][dtype], TWINS[name][dtype]
    rf = model.receptive_field
    n = data.draw(st.integers(0, 3 * rf + 5), label="length")
    sizes = data.draw(st.lists(st.one_of(st.integers(0, 3), st.sampled_from([5, 7, 13, 31]),
                                         st.integers(rf, 2 * rf + 1)), min_size=1, max_size=8),
                      label="chunk sizes")
    gen = torch.Generator().manual_seed(data.draw(st.integers(0, 2**31), label="seed"))
    x, cond = inputs(model, batch, n, dtype, gen)
    with torch.no_grad():
        y_torch = model(x, **cond).numpy()
        with model.streaming(batch):
            y_torch_stream = torch.cat([model(x[..., a:b], **piece(cond, a, b))
                                        for a, b in spans(n, sizes)], -1).numpy()
    ncond = {k: v.numpy() for k, v in cond.items()}
    y_numpy = twin(x.numpy(), **ncond)
    stream = twin.stream(batch)
    y_numpy_stream = np.concatenate([stream.process(x.numpy()[..., a:b], **piece(ncond, a, b))
                                     for a, b in spans(n, sizes)] + [stream.flush()], -1)
    assert y_numpy.dtype == y_numpy_stream.dtype == NUMPY_DTYPE[dtype]
    for y in (y_numpy, y_numpy_stream, y_torch_stream):
        close(y, y_torch, dtype)


LONG_TCN = build(5, lambda: TCN(2, [8, 8, 6, 6, 6], kernel_size=3, dilations=[1, 4, 16, 64,
                                                                        256]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@settings(max_examples=6, deadline=None)
@given(data=st.data(), batch=st.sampled_from([1, 2]))
def test_tcn_long_chunks_equal_torch(dtype, data, batch):
    """Chunks of 32 samples and more run Winograd F(2, 3) where they hold whole tiles of
    2 * dilation, im2col elsewhere: any mix equals torch offline."""
    model = LONG_TCN[dtype]
    twin = to_numpy(model)
    n = data.draw(st.integers(512, 4200), label="length")
    sizes = data.draw(st.lists(st.sampled_from([512, 1024, 2048, 520, 600, 32, 64, 1, 37]),
                               min_size=1, max_size=6), label="chunk sizes")
    x = torch.randn(batch, 2, n, generator=torch.Generator().manual_seed(n), dtype=dtype)
    with torch.no_grad():
        y_torch = model(x).numpy()
    stream = twin.stream(batch)
    y_stream = np.concatenate([stream.process(x.numpy()[..., a:b]) for a, b in spans(n, sizes)],
                              -1)
    close(twin(x.numpy()), y_torch, dtype)
    close(y_stream, y_torch, dtype)


@pytest.mark.parametrize("kernels", [(1, 1), (2, 1), (1, 3)], ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_wavenet_paths_of_every_kernel_pair_equal_torch(kernels, dtype):
    """1x1 gate convs run the unfused path; a 1x1 input conv feeds the fused chain."""
    kernel_size, input_kernel_size = kernels
    model = build(6, lambda: WaveNet(2, 6, 8, 5, kernel_size=kernel_size, dilations=[1, 2],
                                     input_kernel_size=input_kernel_size,
                                     local_cond_channels=2))[dtype]
    twin = to_numpy(model)
    gen = torch.Generator().manual_seed(1)
    x, cond = inputs(model, 2, 300, dtype, gen)
    with torch.no_grad():
        expected = model(x, **cond).numpy()
    ncond = {k: v.numpy() for k, v in cond.items()}
    stream = twin.stream(2)
    y_stream = np.concatenate([stream.process(x.numpy()[..., a:b], **piece(ncond, a, b))
                               for a, b in spans(300, [64, 1, 100])], -1)
    close(twin(x.numpy(), **ncond), expected, dtype)
    close(y_stream, expected, dtype)


def test_causal_conv_matches_the_design_formula(rng):
    """y[n] = b + sum_t w[t] x[n - d (K-1-t)], zeros before the start (DESIGN.md)."""
    conv = CausalConv1d(3, 2, kernel_size=4, dilation=3, groups=1).double()
    x = rng.standard_normal((2, 3, 40))
    with torch.no_grad():
        y = conv(torch.from_numpy(x)).numpy()
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    expected = np.zeros((2, 2, 40)) + b[:, None]
    for n in range(40):
        for t in range(4):
            k = n - 3 * (4 - 1 - t)
            if k >= 0:
                expected[:, :, n] += np.einsum("oc,bc->bo", w[:, :, t], x[:, :, k])
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


def locuslab_tcn(model, x):
    """locuslab/TCN's TemporalBlock: Conv1d(padding=(K-1)d) then Chomp1d, on the weights."""
    for block in model.blocks:
        h = x
        for conv in (block.conv1, block.conv2):
            pad = (conv.kernel_size[0] - 1) * conv.dilation[0]
            h = F.conv1d(h, conv.weight, conv.bias, padding=pad, dilation=conv.dilation)
            h = F.relu(h[..., :-pad])
        res = x if block.downsample is None else block.downsample(x)
        x = F.relu(h + res)
    return x if model.head is None else model.head(x)


def wavenet_reference(model, x, global_cond=None, local_cond=None):
    """A functional rewrite of the paper's equations with explicit left padding."""
    def causal(conv, h):
        pad = (conv.kernel_size[0] - 1) * conv.dilation[0]
        return F.conv1d(F.pad(h, (pad, 0)), conv.weight, conv.bias, dilation=conv.dilation)
    h, skips = causal(model.input_conv, x), []
    for layer in model.layers:
        a = causal(layer.conv, h)
        if global_cond is not None:
            projected = torch.einsum("gc,bc->bg", layer.global_cond.weight[..., 0], global_cond)
            a = a + projected[..., None]
        if local_cond is not None:
            a = a + torch.einsum("gc,bct->bgt", layer.local_cond.weight[..., 0], local_cond)
        g = a.shape[1] // 2
        z = torch.tanh(a[:, :g]) * torch.sigmoid(a[:, g:])
        skips.append(layer.skip(z))
        if layer.res is not None:
            h = h + layer.res(z)
    out = model.head1(F.relu(sum(skips)))
    return model.head2(F.relu(out))


@pytest.mark.parametrize("name", ["tcn", "tcn_k2", "wavenet", "wavenet_cond"])
def test_torch_models_match_independent_formulations(name):
    model = MODELS[name][torch.float64]
    gen = torch.Generator().manual_seed(7)
    x, cond = inputs(model, 3, 120, torch.float64, gen)
    with torch.no_grad():
        reference = locuslab_tcn(model, x) if name.startswith("tcn") else \
            wavenet_reference(model, x, **cond)
        close(model(x, **cond).numpy(), reference.numpy(), torch.float64)


def test_tcn_block_structure_follows_bai_et_al():
    model = TCN(3, [8, 8, 4], kernel_size=5, dropout=0.3)
    blocks = model.blocks
    assert len(blocks) == 3 and [b.conv1.dilation[0] for b in blocks] == [1, 2, 4]
    assert blocks[0].downsample is not None and blocks[1].downsample is None
    assert blocks[2].downsample.kernel_size == (1,)
    for block in blocks:  # weight norm on both dilated convs, dropout after each ReLU
        assert torch.nn.utils.parametrize.is_parametrized(block.conv1, "weight")
        assert torch.nn.utils.parametrize.is_parametrized(block.conv2, "weight")
        assert block.dropout1.p == block.dropout2.p == 0.3
    assert not torch.nn.utils.parametrize.is_parametrized(TCN(1, [2], weight_norm=False)
                                                          .blocks[0].conv1)


def test_gradient_support_equals_the_receptive_field():
    for name in ("tcn", "wavenet", "stack"):
        model = copy.deepcopy(MODELS[name][torch.float64])
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if pname.endswith("bias"):
                    p.fill_(3.0)  # every ReLU active: the support is the whole field
        rf = model.receptive_field
        x = torch.randn(1, model.in_channels, 3 * rf, dtype=torch.float64, requires_grad=True)
        out = 2 * rf
        model(x)[..., out].sum().backward()
        support = torch.nonzero(x.grad.abs().sum(dim=(0, 1))).flatten()
        assert (support.min().item(), support.max().item()) == (out - rf + 1, out), name


def test_streaming_state_reset_and_any_batch():
    model = MODELS["wavenet_cond"][torch.float64]
    gen = torch.Generator().manual_seed(3)
    x, cond = inputs(model, 5, 90, torch.float64, gen)
    with torch.no_grad():
        expected = model(x, **cond)
        with model.streaming(5):
            first = model(x[..., :40], **piece(cond, 0, 40))
            state = {k: v.clone() for k, v in model.stream_state().items()}
            assert set(state) == {"input_conv.history"} | {
                f"layers.{i}.conv.history" for i in range(2)}
            second = model(x[..., 40:], **piece(cond, 40, 90))
            model.load_stream_state(state)
            again = model(x[..., 40:], **piece(cond, 40, 90))
            model.reset_stream()
            restarted = model(x, **cond)
        assert torch.equal(second, again)
        close(torch.cat([first, second], -1).numpy(), expected.numpy(), torch.float64)
        close(restarted.numpy(), expected.numpy(), torch.float64)
        close(model(x, **cond).numpy(), expected.numpy(), torch.float64)  # offline again


def test_torch_stream_state_continues_a_numpy_stream():
    """The two streams keep the same histories under the same names."""
    model, twin = MODELS["tcn"][torch.float64], TWINS["tcn"][torch.float64]
    x = torch.randn(2, 2, 80, dtype=torch.float64)
    stream = twin.stream(2)
    head = stream.process(x[..., :50].numpy())
    state = {k: v for k, v in stream.state_dict().items() if k.endswith(".history")}
    with torch.no_grad(), model.streaming(2):
        model.load_stream_state(state)
        tail = model(x[..., 50:]).numpy()
    close(np.concatenate([head, tail], -1), model(x).detach().numpy(), torch.float64)


def test_streaming_errors_are_clear():
    model = MODELS["tcn"][torch.float32]
    with pytest.raises(RuntimeError, match="not streaming"):
        model.reset_stream()
    with model.streaming(2):
        with pytest.raises(ValueError, match=r"expected chunks of shape \(2, 2, T\).*\(3, 2, 5\)"):
            model(torch.zeros(3, 2, 5))
        with pytest.raises(RuntimeError, match="already streaming"):
            with model.streaming(1):
                pass
        model(torch.zeros(2, 2, 10))  # (a stream saves each conv's past from its first sample)
        state = model.stream_state()
        bad = dict(state, **{"blocks.0.conv1.history": torch.zeros(2, 2, 1)})
        with pytest.raises(ValueError, match=r"'blocks.0.conv1.history' must have shape "
                                             r"\(2, 2, 2\)"):
            model.load_stream_state(bad)
        with pytest.raises(ValueError, match="but not.*blocks.2.conv2.history"):
            model.load_stream_state({k: v for k, v in state.items() if "blocks.2.conv2" not in k})
    with pytest.raises(ValueError, match=r"expected x of shape \(B, 2, T\), got \(2, 10\)"):
        model(torch.zeros(2, 10))


def test_a_huge_batch_stream_is_refused_before_it_allocates():
    """The histories and delay lines of a torch stream are counted against the memory
    budget: their size, the sum of ``B * C * (span + room)`` floats, is quoted."""
    from wavedil.engine.params import memory_budget
    from wavedil.nn.layers import ROOM, AlignedConv1d

    model = TCN(4, [64, 64], kernel_size=3, dilations=[1, 512])
    spans = [(m.in_channels, m.span) for m in model.modules()
             if isinstance(m, AlignedConv1d) and m.span]
    assert len(spans) == 4
    per_sequence = 4 * sum(c * (s + max(s, ROOM)) for c, s in spans)
    batch = int(memory_budget() // per_sequence) + 1
    with pytest.raises(ValueError, match=rf"a stream of TCN with batch {batch} \(its histories "
                                         r"and delay lines\) needs .* more than the memory budget"):
        with model.streaming(batch):
            pass
    with pytest.raises(ValueError, match=rf"a stream of TCN with batch {batch}"):
        model.stream(batch).process(torch.zeros(batch, 4, 0))
    with model.streaming(2):
        model(torch.zeros(2, 4, 3))  # within the budget: streams


def test_a_lone_causal_conv_streams_too():
    conv = CausalConv1d(2, 3, kernel_size=3, dilation=40, groups=1)
    x = torch.randn(1, 2, 300)
    with torch.no_grad():
        expected = conv(x)
        with conv.streaming(1):  # chunk 1 gathers taps; chunk 200 convolves the window
            parts = [conv(x[..., i : i + 1]) for i in range(50)] + [conv(x[..., 50:250]),
                                                                    conv(x[..., 250:])]
            assert set(conv.stream_state()) == {"history"}
    close(torch.cat(parts, -1).numpy(), expected.numpy(), torch.float32)


def test_history_compaction_keeps_per_chunk_work_bounded():
    """The kept buffer never grows past span + room, whatever the number of chunks."""
    conv = CausalConv1d(1, 1, kernel_size=2, dilation=300)
    with torch.no_grad(), conv.streaming(1):
        for _ in range(2000):
            conv(torch.randn(1, 1, 1))
        assert conv._stream.history.buf.shape[-1] == 300 + 300


def as_numpy(cond):
    return {k: v.numpy() for k, v in cond.items()}


def other_side(side, name, dtype):
    """The stream that continues: torch's for a numpy state and vice versa."""
    return MODELS[name][dtype].stream(2) if side == "numpy" else TWINS[name][dtype].stream(2)


@pytest.mark.parametrize("name", ["tcn", "wavenet_cond", "stack"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("saved_by", ["numpy", "torch"])
@settings(max_examples=6)  # torch calls per chunk are costly
@given(split=st.integers(0, 60))
def test_numpy_and_torch_stream_states_are_interchangeable(name, dtype, saved_by, split):
    """A state saved by one side's stream continues on the other's with the offline output
    (the torch model is the oracle); the state format is the same on both sides."""
    model, twin = MODELS[name][dtype], TWINS[name][dtype]
    x, cond = inputs(model, 2, 60, dtype, torch.Generator().manual_seed(split))
    with torch.no_grad():
        expected = model(x, **cond).numpy()
    head, tail = piece(cond, 0, split), piece(cond, split, 60)
    if saved_by == "numpy":
        first = twin.stream(2)
        y0 = first.process(x[..., :split].numpy(), **as_numpy(head))
    else:
        first = model.stream(batch=2)
        y0 = first.process(x[..., :split], **head).numpy()
    state = {k: np.array(v) for k, v in first.state_dict().items()}  # plain arrays only
    second = other_side(saved_by, name, dtype)
    second.load_state_dict(state)
    rest = x[..., split:] if saved_by == "numpy" else x[..., split:].numpy()
    rest_cond = tail if saved_by == "numpy" else as_numpy(tail)
    y1 = np.asarray(second.process(rest, **rest_cond))
    close(np.concatenate([y0, y1, np.asarray(second.flush())], -1), expected, dtype)
    if split:  # (an unfed numpy conv stream has no history yet)
        assert set(second.state_dict()) == set(first.state_dict())


def test_a_perturbed_history_sample_breaks_the_continuation():
    """The interchange test can fail: one history sample changed changes the output."""
    model, twin = MODELS["tcn"][torch.float64], TWINS["tcn"][torch.float64]
    x = torch.randn(2, 2, 80, dtype=torch.float64)
    stream = twin.stream(2)
    stream.process(x[..., :50].numpy())
    state = stream.state_dict()
    state["blocks.1.conv1.history"][1, 2, -1] += 1e-3
    torch_stream = model.stream(2)
    torch_stream.load_state_dict(state)
    with torch.no_grad():
        expected = model(x)[..., 50:].numpy()
    with pytest.raises(AssertionError):
        close(torch_stream.process(x[..., 50:]).numpy(), expected, torch.float64)


def test_torch_streams_speak_the_numpy_words():
    """Same meta as the numpy stream, any layout, independent streams, clear refusals."""
    model, twin = MODELS["wavenet_cond"][torch.float64], TWINS["wavenet_cond"][torch.float64]
    x, cond = inputs(model, 1, 40, torch.float64, torch.Generator().manual_seed(5))
    a, b = model.stream(), model.stream()
    assert "op=WaveNet" in repr(a) and "batch=None" in repr(a)
    g, c = cond["global_cond"][0], cond["local_cond"][0]
    ya = a.process(x[0, :, :25], global_cond=g, local_cond=c[:, :25])  # (C, T), as numpy
    b.process(x[0, :, :3], global_cond=g, local_cond=c[:, :3])  # another stream, its own state
    ya = torch.cat([ya, a.process(x[0, :, 25:], global_cond=g, local_cond=c[:, 25:])], -1)
    with torch.no_grad():
        close(ya.numpy(), model(x, **cond)[0].numpy(), torch.float64)
    numpy_stream = twin.stream()
    numpy_stream.process(x[0, :, :25].numpy(), global_cond=g.numpy(),
                         local_cond=c[:, :25].numpy())
    torch_meta = json.loads(str(b.state_dict()["meta"]))
    numpy_meta = json.loads(str(numpy_stream.state_dict()["meta"]))
    assert torch_meta == numpy_meta
    with pytest.raises(ValueError, match="another configuration"):
        MODELS["tcn"][torch.float64].stream().load_state_dict(b.state_dict())
    with pytest.raises(ValueError, match="float64, this model computes in float32"):
        MODELS["wavenet_cond"][torch.float32].stream().load_state_dict(b.state_dict())
    with pytest.raises(TypeError, match="computes in float64"):
        b.process(x[0, :, :3].float(), global_cond=g, local_cond=c[:, :3])
    a.reset()
    assert a.state_dict()["meta"] and len(a.state_dict()) == 1


def test_a_causal_conv_stream_state_loads_into_the_numpy_conv_stream():
    conv = CausalConv1d(2, 3, kernel_size=3, dilation=4).double()
    layer = to_numpy_conv(conv)
    x = np.random.default_rng(2).standard_normal((1, 2, 40))
    stream = conv.stream(1)
    head = stream.process(x[..., :17]).numpy()
    engine = layer.stream(1)
    engine.load_state_dict(stream.state_dict())
    with torch.no_grad():
        expected = conv(torch.from_numpy(x)).numpy()
    close(np.concatenate([head, engine.process(x[..., 17:])], -1), expected, torch.float64)


def to_numpy_conv(conv):
    from wavedil.engine.conv import DilatedConv1d

    return DilatedConv1d(conv.weight.detach().numpy(), conv.bias.detach().numpy(),
                         dilation=conv.dilation[0])


def test_a_grouped_1x1_layer_state_loads_both_ways():
    """numpy saves an empty history for a grouped 1x1 conv; torch has none to keep."""
    torch.manual_seed(6)
    model = Stack([{"channels": 4, "kernel_size": 3, "dilation": 2},
                   {"channels": 4, "kernel_size": 1, "groups": 2}], in_channels=2).double()
    twin = to_numpy(model)
    x = np.random.default_rng(6).standard_normal((1, 2, 30))
    numpy_stream = twin.stream(1)
    numpy_stream.process(x[..., :11])
    assert numpy_stream.state_dict()["layers.1.history"].shape == (1, 4, 0)
    torch_stream = model.stream(1)
    torch_stream.load_state_dict(numpy_stream.state_dict())
    back = twin.stream(1)
    back.load_state_dict(torch_stream.state_dict())
    with torch.no_grad():
        expected = model(torch.from_numpy(x))[..., 11:].numpy()
    close(torch_stream.process(x[..., 11:]).numpy(), expected, torch.float64)
    close(back.process(x[..., 11:]), expected, torch.float64)
