"""The numpy 1-D engine against torch.nn.functional.conv1d, and its streams."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close
from hypothesis import given
from hypothesis import strategies as st

from wavedil.engine import conv as conv_module
from wavedil.engine.conv import DilatedConv1d, conv1d
from wavedil.engine.stream import run_stream


def torch_oracle(x, weight, bias, dilation, groups, left, right, boundary="zero"):
    """torch conv1d on the signal padded with the alignment's (left, right) extents."""
    x3 = x.reshape((1,) * (3 - x.ndim) + x.shape)
    mode = "replicate" if boundary == "edge" else "constant"
    t = torch.from_numpy(np.ascontiguousarray(x3, dtype=np.float64))
    if left or right:
        t = F.pad(t, (left, right), mode=mode)
    y = F.conv1d(t, torch.from_numpy(weight.astype(np.float64)),
                 None if bias is None else torch.from_numpy(bias.astype(np.float64)),
                 dilation=dilation, groups=groups).numpy()
    return y


layer_params = st.fixed_dictionaries({
    "groups": st.sampled_from([1, 2, 3]),
    "c_in_per_group": st.integers(1, 3),
    "c_out_per_group": st.integers(1, 3),
    "kernel": st.integers(1, 5),
    "dilation": st.sampled_from([1, 2, 3, 7, 64, 1024]),
    "alignment": st.sampled_from(["causal", "centered", "split"]),
    "boundary": st.sampled_from(["zero", "edge"]),
    "bias": st.booleans(),
    "dtype": st.sampled_from([np.float32, np.float64]),
    "batch": st.integers(1, 3),
    "length": st.integers(0, 300),
    "seed": st.integers(0, 2**31 - 1),
})


def make_layer(p):
    rng = np.random.default_rng(p["seed"])
    c_in = p["groups"] * p["c_in_per_group"]
    c_out = p["groups"] * p["c_out_per_group"]
    weight = rng.standard_normal((c_out, p["c_in_per_group"], p["kernel"]))
    bias = rng.standard_normal(c_out) if p["bias"] else None
    span = (p["kernel"] - 1) * p["dilation"]
    alignment = (span // 3, span - span // 3) if p["alignment"] == "split" else p["alignment"]
    layer = DilatedConv1d(weight, bias, p["dilation"], p["groups"], alignment, p["boundary"])
    x = rng.standard_normal((p["batch"], c_in, p["length"])).astype(p["dtype"])
    return layer, weight, bias, x


@given(layer_params)
def test_offline_equals_torch_conv1d(p):
    layer, weight, bias, x = make_layer(p)
    y = layer(x)
    assert y.dtype == p["dtype"] and y.shape == (p["batch"], layer.out_channels, p["length"])
    if p["length"] == 0:
        return
    expected = torch_oracle(x, weight, bias, p["dilation"], p["groups"], layer.left,
                            layer.right, p["boundary"])
    assert_close(y, expected, p["dtype"])


@given(layer_params, st.sampled_from([1, 700, 5000]))
def test_im2col_blocks_of_any_size_equal_torch(p, block_bytes):
    """Small im2col blocks (a few samples each) give what one block gives: torch's output."""
    layer, weight, bias, x = make_layer(p)
    saved = conv_module.IM2COL_BYTES
    conv_module.IM2COL_BYTES = block_bytes
    try:
        y = layer(x)
    finally:
        conv_module.IM2COL_BYTES = saved
    if p["length"] == 0:
        return
    expected = torch_oracle(x, weight, bias, p["dilation"], p["groups"], layer.left,
                            layer.right, p["boundary"])
    assert_close(y, expected, p["dtype"])


chunkings = st.lists(st.sampled_from([0, 1, 2, 3, 5, 7, 13, 31, 64, 257, 1500]),
                     min_size=1, max_size=8).filter(any)


@given(layer_params, chunkings)
def test_stream_equals_offline_for_any_chunking(p, sizes):
    layer, _, _, x = make_layer(p)
    offline = layer(x)
    streamed = run_stream(layer, x, sizes)
    assert streamed.dtype == offline.dtype and streamed.shape == offline.shape
    assert_close(streamed, offline, p["dtype"])


@given(layer_params, chunkings)
def test_stream_equals_torch_for_any_chunking(p, sizes):
    """Each per-chunk path (chunk size 1: a matrix-vector product on strided taps; short
    chunks: the compiled history write and im2col gather; long: in place) against torch."""
    layer, weight, bias, x = make_layer(p)
    streamed = run_stream(layer, x, sizes)
    if p["length"] == 0:
        return
    expected = torch_oracle(x, weight, bias, p["dilation"], p["groups"], layer.left,
                            layer.right, p["boundary"])
    assert_close(streamed, expected, p["dtype"])


@given(layer_params, chunkings)
def test_process_returns_len_chunk_once_primed_and_flush_returns_latency(p, sizes):
    layer, _, _, x = make_layer(p)
    stream = layer.stream(batch=p["batch"])
    seen = 0
    for size in sizes:
        y = stream.process(x[..., seen : seen + size])
        n = x[..., seen : seen + size].shape[-1]
        before = max(0, seen - layer.latency)
        seen += n
        assert y.shape[-1] == max(0, seen - layer.latency) - before
    assert stream.flush().shape[-1] == min(seen, layer.latency)


@given(st.integers(1, 5), st.sampled_from([1, 2, 5, 300]), st.integers(1, 200),
       st.integers(0, 2**31 - 1))
def test_causal_output_on_a_prefix_is_the_prefix_of_the_output(k, dilation, n, seed):
    rng = np.random.default_rng(seed)
    layer = DilatedConv1d(rng.standard_normal((2, 2, k)), rng.standard_normal(2), dilation)
    x = rng.standard_normal((2, 200))
    assert_close(layer(x[:, :n]), layer(x)[:, :n], np.float64)


def test_depthwise_means_one_filter_per_channel():
    assert DilatedConv1d(np.ones((3, 1, 2)), groups=3).depthwise  # torch's depthwise layout
    assert DilatedConv1d(np.ones((1, 1, 2))).depthwise  # one channel, one filter
    assert not DilatedConv1d(np.ones((3, 3, 2))).depthwise
    assert not DilatedConv1d(np.ones((6, 1, 2)), groups=3).depthwise  # two filters per channel


def test_shapes_one_dimensional_and_two_dimensional():
    rng = np.random.default_rng(0)
    single = DilatedConv1d(rng.standard_normal((1, 1, 3)), dilation=2)
    assert single(np.ones(10)).shape == (10,)
    wide = DilatedConv1d(rng.standard_normal((4, 1, 3)))
    assert wide(np.ones(10)).shape == (4, 10)
    assert wide(np.ones((1, 10))).shape == (4, 10)
    assert wide(np.arange(10)).dtype == np.float64


def test_kernel_longer_than_signal_and_huge_dilation():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((2, 2, 3))
    x = rng.standard_normal((1, 2, 5))
    for alignment in ("causal", "centered"):
        layer = DilatedConv1d(w, dilation=1024, alignment=alignment)
        expected = torch_oracle(x, w, None, 1024, 1, layer.left, layer.right)
        assert_close(layer(x), expected, np.float64)
        assert_close(run_stream(layer, x, [1]), expected, np.float64)


def test_functional_twin_continues_like_the_stream():
    rng = np.random.default_rng(2)
    w, b = rng.standard_normal((3, 2, 4)), rng.standard_normal(3)
    x = rng.standard_normal((2, 100))
    layer = DilatedConv1d(w, b, 5, alignment="centered")
    parts, state = [], None
    for start in range(0, 100, 17):
        last = start + 17 >= 100
        y, state = conv1d(x[:, start : start + 17], w, b, 5, alignment="centered", state=state,
                          final=last)
        parts.append(y)
    assert_close(np.concatenate(parts, -1), layer(x), np.float64)


@pytest.mark.slow
def test_state_saved_with_savez_continues_exactly_in_a_fresh_process(tmp_path):
    rng = np.random.default_rng(3)
    w, b = rng.standard_normal((3, 2, 3)), rng.standard_normal(3)
    x = rng.standard_normal((2, 2, 500)).astype(np.float32)
    np.savez(tmp_path / "layer.npz", w=w, b=b, x=x)
    layer = DilatedConv1d(w, b, dilation=37, alignment="centered")
    stream = layer.stream(batch=2)
    first = stream.process(x[..., :301])
    np.savez(tmp_path / "state.npz", **stream.state_dict())
    script = textwrap.dedent("""
        import sys, numpy as np
        from wavedil.engine.conv import DilatedConv1d
        d = np.load(sys.argv[1] + "/layer.npz")
        stream = DilatedConv1d(d["w"], d["b"], dilation=37, alignment="centered").stream(batch=2)
        stream.load_state_dict(dict(np.load(sys.argv[1] + "/state.npz")))
        rest = np.concatenate([stream.process(d["x"][..., 301:]), stream.flush()], -1)
        np.save(sys.argv[1] + "/rest.npy", rest)
    """)
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True)
    rest = np.load(tmp_path / "rest.npy")
    np.testing.assert_array_equal(np.concatenate([first, rest], -1), layer(x))


def test_reset_starts_afresh_and_streams_do_not_share_state():
    rng = np.random.default_rng(4)
    layer = DilatedConv1d(rng.standard_normal((1, 1, 3)), dilation=4)
    x = rng.standard_normal(50)
    a, b = layer.stream(), layer.stream()
    a.process(x[:20])
    np.testing.assert_array_equal(b.process(x), layer(x))
    a.reset()
    np.testing.assert_array_equal(a.process(x), layer(x))


def test_bad_input_errors_quote_expected_and_given():
    rng = np.random.default_rng(5)
    layer = DilatedConv1d(rng.standard_normal((4, 2, 3)))
    with pytest.raises(ValueError, match=r"expected 2 input channels, got 3 \(shape \(3, 480\)\)"):
        layer(np.zeros((3, 480)))
    with pytest.raises(ValueError, match=r"\(T,\), \(C, T\) or \(B, C, T\).*\(1, 1, 2, 5\)"):
        layer(np.zeros((1, 1, 2, 5)))
    with pytest.raises(TypeError, match="complex"):
        layer(np.zeros((2, 5), complex))
    with pytest.raises(ValueError, match="weight must be finite, got 1 non-finite"):
        DilatedConv1d(np.array([[[1.0, np.nan]]]))
    with pytest.raises(ValueError, match=r"weight must be .*got shape \(2, 3\)"):
        DilatedConv1d(np.ones((2, 3)))
    with pytest.raises(ValueError, match="divisible by groups = 2"):
        DilatedConv1d(np.ones((3, 1, 2)), groups=2)
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\), got \(3,\)"):
        DilatedConv1d(np.ones((4, 2, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"add up to the span .* = 4, got \(1, 1\)"):
        DilatedConv1d(np.ones((1, 1, 3)), dilation=2, alignment=(1, 1))
    with pytest.raises(ValueError, match="boundary must be one of"):
        DilatedConv1d(np.ones((1, 1, 3)), boundary="periodic")


def test_rejected_chunk_leaves_the_stream_unchanged():
    rng = np.random.default_rng(6)
    layer = DilatedConv1d(rng.standard_normal((2, 2, 3)), dilation=3)
    x = rng.standard_normal((1, 2, 40))
    stream = layer.stream()
    first = stream.process(x[..., :10])
    before = stream.state_dict()
    with pytest.raises(TypeError, match="carries float64, got a chunk of float32"):
        stream.process(x[..., 10:20].astype(np.float32))
    with pytest.raises(ValueError, match=r"batch 1, got shape \(2, 2, 10\)"):
        stream.process(np.concatenate([x, x])[..., 10:20])
    with pytest.raises(ValueError, match="expected 2 input channels, got 1"):
        stream.process(x[:, :1, 10:20])
    after = stream.state_dict()
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])
    rest = stream.process(x[..., 10:])
    np.testing.assert_array_equal(np.concatenate([first, rest], -1), layer(x))


def test_state_from_another_layer_is_rejected():
    rng = np.random.default_rng(7)
    a = DilatedConv1d(rng.standard_normal((2, 2, 3)), dilation=3).stream()
    a.process(rng.standard_normal((2, 10)))
    b = DilatedConv1d(rng.standard_normal((2, 2, 3)), dilation=4).stream()
    with pytest.raises(ValueError, match="another configuration: dilation: expected 4, got 3"):
        b.load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match="not a wavedil stream state"):
        b.load_state_dict({"history": np.zeros(3)})
    fixed = DilatedConv1d(rng.standard_normal((2, 2, 3)), dilation=3).stream(batch=4)
    with pytest.raises(ValueError, match="state has batch 1, this stream expects 4"):
        fixed.load_state_dict(a.state_dict())


def test_flushed_stream_refuses_more_until_reset():
    layer = DilatedConv1d(np.ones((1, 1, 3)), alignment="centered")
    stream = layer.stream()
    stream.process(np.ones(4))
    assert stream.flush().shape == (1,)
    with pytest.raises(ValueError, match="flushed; call reset"):
        stream.process(np.ones(4))


def test_layers_in_threads_and_interleaved_streams_do_not_share_blocks():
    """im2col blocks are reused per thread: concurrent layers still match torch."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(9)
    cases = []
    for dilation in (1, 5, 40):
        weight, bias = rng.standard_normal((6, 4, 3)), rng.standard_normal(6)
        x = rng.standard_normal((2, 4, 3000))
        expected = torch_oracle(x, weight, bias, dilation, 1, 2 * dilation, 0)
        cases.append((DilatedConv1d(weight, bias, dilation), x, expected))
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda case: [case[0](case[1]) for _ in range(5)], cases))
    for (_, _, expected), outputs in zip(cases, results):
        for y in outputs:
            assert_close(y, expected, np.float64)
    streams = [(layer.stream(), x) for layer, x, _ in cases]  # interleaved in one thread
    parts = [[] for _ in cases]
    for start in range(0, 3000, 250):
        for i, (stream, x) in enumerate(streams):
            parts[i].append(stream.process(x[..., start : start + 250]))
    for (_, _, expected), chunks in zip(cases, parts):
        assert_close(np.concatenate(chunks, -1), expected, np.float64)
