"""The non-finite policy at the entry points tests/test_nonfinite.py leaves out (issue 18):

- ``dilated_convolve`` / ``dilated_correlate``'s kernel ``k``: refused with its index;
  under ``"confine"`` equal to ``scipy.signal.convolve(x, dilate_kernel(k, d),
  method="direct")`` (NaN where it has NaN);
- the torch modules' own ``forward`` (outside a stream): refused with the input's index;
- ``wavedil.dask.apply``: refused with the index in the whole dask array (any chunking, any
  time axis), the policy captured when the graph is built (computed under another one, or
  on a distributed worker); under ``"confine"`` the Dask ``denoise`` equals the in-memory
  one with its statistics over the finite coefficients (Bayes, SURE, universal).
"""

import re

import dask
import dask.array as da
import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
import wavedil.nn as wnn
from wavedil.dask import apply
from wavedil.dask.apply import fit_chunks

BAD = [np.nan, np.inf, -np.inf]


@pytest.fixture(autouse=True)
def _default_policy():
    with wavedil.nonfinite("refuse"):
        yield


def _text(name, index) -> str:
    return f"{name}[{', '.join(str(i) for i in index)}] is "


# -- the convolution kernel ------------------------------------------------------------------

@given(n=st.integers(1, 30), taps=st.integers(1, 6), dilation=st.integers(1, 4),
       data=st.data())
@settings(max_examples=40, deadline=None)
def test_kernel_refused_with_its_index_and_confined_as_scipy(n, taps, dilation, data):
    rng = np.random.default_rng(n * 100 + taps)
    x, k = rng.standard_normal(n), rng.standard_normal(taps)
    t = data.draw(st.integers(0, taps - 1))
    k[t] = data.draw(st.sampled_from(BAD))
    for function in (wavedil.dilated_convolve, wavedil.dilated_correlate):
        with pytest.raises(ValueError, match=re.escape(_text("k", [t]))):
            function(x, k, dilation)
    with wavedil.nonfinite("confine"):
        got = wavedil.dilated_convolve(x, k, dilation)
    dilated = np.zeros((taps - 1) * dilation + 1)
    dilated[::dilation] = k
    want = scipy.signal.convolve(x, dilated, method="direct")
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True)


# -- the torch modules' forward --------------------------------------------------------------

MODULES = {
    "CausalConv1d": (lambda: wnn.CausalConv1d(2, 3, 3, dilation=2), 2),
    "AlignedConv1d": (lambda: wnn.AlignedConv1d(2, 3, 3, dilation=2, alignment=(1, 3)), 2),
    "TCN": (lambda: wnn.TCN(2, [4, 3], kernel_size=3, dilations=[1, 4], out_channels=1), 2),
    "WaveNet": (lambda: wnn.WaveNet(1, residual_channels=6, gate_channels=8, skip_channels=5,
                                    kernel_size=3, dilations=[1, 4]), 1),
    "Stack": (lambda: wnn.Stack([{"channels": 4, "kernel_size": 3, "dilation": 2},
                                 {"channels": 1, "activation": None}], in_channels=1), 1),
}


@pytest.mark.parametrize("name", sorted(MODULES))
@given(batch=st.integers(1, 2), length=st.integers(1, 40), data=st.data())
@settings(max_examples=10, deadline=None)
def test_torch_forward_refuses_with_the_index(name, batch, length, data):
    make, channels = MODULES[name]
    torch.manual_seed(0)
    module = make().double()
    x = torch.randn(batch, channels, length, dtype=torch.float64)
    index = tuple(data.draw(st.integers(0, s - 1)) for s in x.shape)
    x[index] = data.draw(st.sampled_from(BAD))
    with pytest.raises(ValueError, match=re.escape(_text("x", index))):
        module(x)
    with wavedil.nonfinite("confine"), torch.no_grad():
        y = module(x)  # let through: the outputs that do not read it are the clean ones
        clean = x.clone()
        clean[index] = 0.0
        y_clean = module(clean)
    finite = torch.isfinite(y)
    torch.testing.assert_close(y[finite], y_clean[finite], rtol=0, atol=0)


def test_wavenet_conditioning_refused_by_forward():
    net = wnn.WaveNet(1, residual_channels=4, gate_channels=4, skip_channels=3,
                      kernel_size=2, dilations=[1, 2], local_cond_channels=2).double()
    cond = torch.zeros(1, 2, 20, dtype=torch.float64)
    cond[0, 1, 7] = np.nan
    with pytest.raises(ValueError, match=r"local_cond\[0, 1, 7\] is nan"):
        net(torch.zeros(1, 1, 20, dtype=torch.float64), local_cond=cond)


def test_tracing_skips_the_check():
    conv = wnn.CausalConv1d(1, 1, 2).double()
    traced = torch.jit.trace(conv, torch.zeros(1, 1, 8, dtype=torch.float64))
    x = torch.zeros(1, 1, 8, dtype=torch.float64)
    x[0, 0, 3] = np.nan
    assert torch.isnan(traced(x)).any()  # no check baked into the graph


# -- Dask ------------------------------------------------------------------------------------

def _chunks(data, n, smallest):
    """Drawn chunk sizes summing to ``n``, those under ``smallest`` merged (``fit_chunks``)."""
    cuts = sorted(set(data.draw(st.lists(st.integers(1, n - 1), min_size=1, max_size=6))))
    return fit_chunks(tuple(int(s) for s in np.diff([0, *cuts, n])), smallest)


@given(rows=st.integers(1, 3), n=st.integers(40, 300), axis=st.sampled_from([-1, 0]),
       data=st.data())
@settings(max_examples=25, deadline=None)
def test_dask_refuses_with_the_global_index(rows, n, axis, data):
    op = wavedil.AtrousTransform("db2", 2)
    x = np.random.default_rng(n).standard_normal((rows, n))
    index = [data.draw(st.integers(0, rows - 1)), data.draw(st.integers(0, n - 1))]
    x[tuple(index)] = data.draw(st.sampled_from(BAD))
    chunks = (rows, _chunks(data, n, 12))
    if axis == 0:  # time first: the array as the caller holds it
        x, chunks, index = x.T.copy(), chunks[::-1], index[::-1]
    lazy = apply(op, da.from_array(x, chunks=chunks), axis=axis)
    with pytest.raises(ValueError, match=re.escape(_text("x", index))):
        lazy.compute(scheduler="threads")


def test_dask_policy_travels_with_the_graph():
    op = wavedil.AtrousTransform("db2", 2)
    x = np.random.default_rng(3).standard_normal((1, 400))
    x[0, 250] = np.nan
    lazy_x = da.from_array(x, chunks=(1, 100))
    with wavedil.nonfinite("confine"):
        confined = apply(op, lazy_x)
        want = op(x)
    got = confined.compute(scheduler="threads")  # computed under "refuse": still confined
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, equal_nan=True)
    refused = apply(op, lazy_x)
    with wavedil.nonfinite("confine"), pytest.raises(ValueError, match=r"x\[0, 250\] is nan"):
        refused.compute(scheduler="threads")


@pytest.mark.parametrize("threshold", ["bayes", "sure", "universal"])
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
@settings(max_examples=6, deadline=None)
def test_dask_denoise_equals_in_memory_under_confine(threshold, seed, data):
    rng = np.random.default_rng(seed)
    n, rows = 600, 2
    x = np.sin(np.arange(n) / 15.0) + 0.3 * rng.standard_normal((rows, n))
    for _ in range(data.draw(st.integers(1, 4))):
        x[data.draw(st.integers(0, rows - 1)), data.draw(st.integers(0, n - 1))] = \
            data.draw(st.sampled_from(BAD))
    options = dict(wavelet="db2", levels=3, threshold=threshold)
    chunks = (rows, _chunks(data, n, 40))
    with wavedil.nonfinite("confine"):
        want = wavedil.denoise(x, **options)
        lazy = apply(wavedil.denoise, da.from_array(x, chunks=chunks), **options)
    with dask.config.set(scheduler="threads"):
        got = lazy.compute()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, equal_nan=True)


def test_dask_denoise_on_a_distributed_worker_process():
    """The workers are other processes, their policy the default: the graph's travels."""
    from distributed import Client, LocalCluster

    x = np.random.default_rng(6).standard_normal((1, 2000))
    x[0, [300, 1500]] = np.nan
    with wavedil.nonfinite("confine"):
        want = wavedil.denoise(x, "db2", 3)
        lazy = apply(wavedil.denoise, da.from_array(x, chunks=(1, 500)), wavelet="db2",
                     levels=3)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster):
        np.testing.assert_allclose(lazy.compute(), want, rtol=0, atol=1e-12, equal_nan=True)
        with wavedil.nonfinite("refuse"):
            strict = apply(wavedil.AtrousTransform("db2", 2),
                           da.from_array(x, chunks=(1, 500)))
        with pytest.raises(ValueError, match=r"x\[0, (300|1500)\] is nan"):
            strict.compute()  # (whichever chunk's task runs first reports its own NaN)


# -- what a model computes is not its input ---------------------------------------------------

NUMPY_MODELS = {
    "TCN": lambda **k: wavedil.TCN(1, [4, 3], kernel_size=3, dilations=[1, 4], **k),
    "WaveNet": lambda **k: wavedil.WaveNet(1, 6, 8, 5, kernel_size=3, dilations=[1, 4], **k),
    "Stack": lambda **k: wavedil.Stack([{"channels": 4, "kernel_size": 3, "dilation": 2},
                                        {"channels": 1, "activation": None}], in_channels=1,
                                       **k),
}
TORCH_MODELS = {  # (weight norm off: it would take the 1e30 back out of the weights)
    "TCN": (lambda: wnn.TCN(2, [4, 3], kernel_size=3, dilations=[1, 4], out_channels=1,
                            weight_norm=False), 2),
    "TemporalBlock": (lambda: wnn.TemporalBlock(2, 3, 3, dilation=2, weight_norm=False), 2),
    "WaveNet": MODULES["WaveNet"], "Stack": MODULES["Stack"]}


def _huge(make):
    """A numpy model with its weights times 1e30: its float32 activations overflow."""
    return make(params={k: v * 1e30 for k, v in make(seed=0).params.items()})


@pytest.mark.parametrize("name", sorted(NUMPY_MODELS))
def test_numpy_model_overflow_is_arithmetic_not_bad_input(name):
    """Weights of 1e30 on a finite float32 input overflow inside the model: the result holds
    inf or NaN, as numpy arithmetic gives it, and nothing calls the input non-finite."""
    model = _huge(NUMPY_MODELS[name])
    x = np.random.default_rng(3).standard_normal((1, 50)).astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        offline = model(x)
        stream = model.stream()
        streamed = np.concatenate([stream.process(x[:, :20]), stream.process(x[:, 20:]),
                                   stream.flush()], -1)
    assert not np.isfinite(offline).all()  # it did overflow
    np.testing.assert_array_equal(np.isfinite(streamed), np.isfinite(offline))


@pytest.mark.parametrize("name", sorted(TORCH_MODELS))
def test_torch_model_overflow_is_not_reported_as_its_input(name):
    """The same in torch: the model checks its input once, at its entry; its layers, fed
    what it computed, do not check again (they said "x[...] is inf" of a finite input)."""
    make, channels = TORCH_MODELS[name]
    torch.manual_seed(0)
    module = make()
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(1e30)
        x = 1e10 * torch.randn(1, channels, 50)  # finite: the first layer's output is not
        y = module(x)
        assert not torch.isfinite(y).all()  # it did overflow
        if hasattr(module, "stream"):
            stream = module.stream()
            streamed = torch.cat([stream.process(x[..., :20]), stream.process(x[..., 20:]),
                                  stream.flush()], -1)
            assert torch.equal(torch.isfinite(streamed), torch.isfinite(y))
        x[0, 0, 7] = np.inf  # the input itself is still refused, at the entry
        with pytest.raises(ValueError, match=re.escape(_text("x", (0, 0, 7)))):
            module(x)


@given(batch=st.integers(1, 2), length=st.integers(1, 30), data=st.data())
@settings(max_examples=10, deadline=None)
def test_channels_last_input_is_quoted_in_its_own_order(batch, length, data):
    """A TCN with ``input_shape="NLC"`` takes x as (B, T, C): a bad sample is quoted as
    x[b, t, c], the caller's order (not the internal (b, c, t))."""
    torch.manual_seed(0)
    tcn = wnn.TCN(3, [4], kernel_size=2, dilations=[1], input_shape="NLC").double()
    x = torch.randn(batch, length, 3, dtype=torch.float64)
    index = tuple(data.draw(st.integers(0, s - 1)) for s in x.shape)
    x[index] = data.draw(st.sampled_from(BAD))
    with pytest.raises(ValueError, match=re.escape(_text("x", index))):
        tcn(x)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_numpy_model_checks_its_input_once(monkeypatch, workers):
    """The offline call checks x at its entry; the streams it runs (one, or one per thread)
    are fed what it checked and do not check it again."""
    from wavedil.engine import finite, stream

    checked, real = [], finite.check_signal

    def counting(a, name):
        if finite.policy() == "refuse":
            checked.append(name)
        real(a, name)

    monkeypatch.setattr(finite, "check_signal", counting)
    monkeypatch.setattr(stream, "check_signal", counting)
    model = NUMPY_MODELS["TCN"](seed=0)
    x = np.random.default_rng(4).standard_normal((1, 20_000))
    np.testing.assert_allclose(model(x, workers=workers), model.stream().process(x),
                               rtol=1e-9, atol=1e-12)  # (split in time: warmed-up stretches)
    assert checked == ["x", "chunk"]  # the call's, then the stream's of the last line
