"""wavedil.dask.apply equals the in-memory call for every operator kind, for any chunking
(chunks smaller than the halo included), on Dask's threaded scheduler.

The oracle is the operator called on the whole signal in memory (itself tested against
pywt, scipy and closed forms elsewhere); ``offline`` denoising: tests/test_dask_denoise.py.
"""

import functools

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
from wavedil.dask import apply, fit_chunks
from wavedil.dask.apply import _block
from wavedil.dask.plans import DenoiserBlocks, plan_for
from wavedil.engine.conv import DilatedConv1d

CHUNKS = st.lists(st.integers(1, 400), min_size=1, max_size=9)


def nonlinear_chain(seed):
    rng = np.random.default_rng(seed)
    layers = [DilatedConv1d(rng.standard_normal((2, 1, 3)), dilation=5, alignment="centered"),
              DilatedConv1d(rng.standard_normal((1, 2, 4)), dilation=3)]

    def op(x):
        return layers[1](np.tanh(layers[0](x)))

    halo = (layers[0].left + layers[1].left, layers[0].right + layers[1].right)
    return op, halo


def chunked(x, chunks):
    """``x`` as a dask array cut in time into ``chunks`` (trimmed or padded to its length)."""
    sizes, total = [], 0
    for c in chunks:
        c = min(c, x.shape[-1] - total)
        if c <= 0:
            break
        sizes.append(c)
        total += c
    if total < x.shape[-1]:
        sizes.append(x.shape[-1] - total)
    return da.from_array(x, chunks=x.shape[:-1] + (tuple(sizes),))


def assert_equal_in_memory(op, x, chunks, atol=1e-12, **options):
    lazy = apply(op, chunked(x, chunks), **options)
    want = op(x, **options)
    assert lazy.shape == want.shape and lazy.dtype == want.dtype
    assert lazy.chunks[-1] == chunked(x, chunks).chunks[-1]  # the user's chunks are kept
    np.testing.assert_allclose(lazy.compute(scheduler="threads"), want, rtol=0, atol=atol)


@given(st.lists(st.integers(1, 60), min_size=1, max_size=8), st.integers(0, 2**31 - 1))
def test_blocks_with_halo_equal_offline_for_any_split(chunks, seed):
    op, halo = nonlinear_chain(seed)
    x = np.random.default_rng(seed).standard_normal((3, 1, sum(chunks)))
    lazy = apply(op, da.from_array(x, chunks=(3, 1, tuple(chunks))), halo=halo)
    assert lazy.chunks[-1] == tuple(chunks)
    np.testing.assert_allclose(lazy.compute(), op(x), rtol=0, atol=1e-12)


def test_a_too_small_halo_is_visible():
    op, (left, right) = nonlinear_chain(0)
    x = np.random.default_rng(1).standard_normal((1, 1, 200))
    short = apply(op, da.from_array(x, chunks=(1, 1, 50)), halo=(left - 1, right)).compute()
    assert np.max(np.abs(short - op(x))) > 1e-6


@settings(max_examples=15)
@given(CHUNKS, st.sampled_from(["causal", "centered", "pywt"]), st.sampled_from(["zero", "edge"]),
       st.sampled_from(["db4", "starlet", "haar"]))
def test_atrous_transform_any_chunking(chunks, alignment, boundary, wavelet):
    x = np.random.default_rng(len(chunks)).standard_normal((2, 1, 1500))
    assert_equal_in_memory(wavedil.AtrousTransform(wavelet, 4, alignment, boundary), x, chunks)


@settings(max_examples=10)
@given(CHUNKS, st.integers(0, 2**31 - 1))
def test_models_any_chunking(chunks, seed):
    tcn = wavedil.TCN(1, [4, 4], kernel_size=3, dilations=[1, 8], seed=seed % 1000)
    wavenet = wavedil.WaveNet(1, 4, 8, 4, dilations=[1, 2, 16], seed=seed % 1000)
    x = np.random.default_rng(seed).standard_normal((2, 1, 1200)).astype(np.float32)
    assert_equal_in_memory(tcn, x, chunks, atol=1e-5)
    assert_equal_in_memory(wavenet, x, chunks, atol=1e-5)


@settings(max_examples=10)
@given(CHUNKS)
def test_resynthesis_with_a_memoryless_function_any_chunking(chunks):
    x = np.random.default_rng(len(chunks)).standard_normal((1, 1, 2000))
    gains = np.array([0.0, 0.5, 1.0, 2.0])[:, None, None, None]
    assert_equal_in_memory(wavedil.Resynthesis("db4", 3, fn=lambda c: c * gains), x, chunks)
    assert_equal_in_memory(wavedil.Resynthesis("starlet", 3, fn=np.tanh, alignment="centered",
                                                boundary="edge"), x, chunks)


@settings(max_examples=10)
@given(CHUNKS, st.sampled_from([(600, 128), (700, 1), (256, 256), (100, 300)]),
       st.sampled_from(["bayes", "sure", 3.0]), st.sampled_from(["db4", "starlet"]))
def test_streaming_denoiser_running_statistics_any_chunking(chunks, window_hop, threshold,
                                                            wavelet):
    window, hop = window_hop
    op = wavedil.Denoiser(wavelet, 3, window=window, hop=hop, threshold=threshold)
    t = np.arange(6000)
    x = (np.sin(t / 7.0) + 0.3 * np.random.default_rng(len(chunks)).standard_normal(t.size))
    assert_equal_in_memory(op, x[None, None], chunks)


def test_streaming_denoiser_fixed_thresholds_and_the_warm_up_it_needs(monkeypatch):
    x = np.random.default_rng(3).standard_normal((1, 1, 8000))
    fixed = wavedil.Denoiser("sym4", 4, sigma=0.5, threshold=2.0)
    assert_equal_in_memory(fixed, x, [1500])
    plan = plan_for(fixed, 8000)
    assert plan.left == 7 * 15 and plan.right == fixed.latency  # the analysis, the lookahead
    running = wavedil.Denoiser("db4", 3, window=1000, hop=200)
    plan = plan_for(running, 8000)
    assert (plan.left, plan.right) == (199 + 6 * 200, running.latency)  # ceil(1049/200) = 6
    assert_equal_in_memory(running, x, [2000])
    # one hop less of warm-up and the thresholds in force differ: the halo is tight
    monkeypatch.setattr(DenoiserBlocks, "start", lambda self, a: max(0, (a // 200) * 200 - 1000))
    short = apply(running, da.from_array(x, chunks=(1, 1, 2000))).compute()
    assert np.max(np.abs(short - running(x))) > 1e-3


@settings(max_examples=15)
@given(CHUNKS, st.sampled_from(["periodic", "symmetric", "reflect", "zero", "edge"]),
       st.sampled_from(["db4", "starlet", "haar"]), st.sampled_from(["causal", "centered"]))
def test_mra_any_chunking_and_boundary(chunks, boundary, wavelet, alignment):
    x = np.random.default_rng(len(chunks)).standard_normal((2, 1800))
    assert_equal_in_memory(wavedil.mra, x, chunks, wavelet=wavelet, levels=4, boundary=boundary,
                           alignment=alignment)


@settings(max_examples=8)
@given(CHUNKS)
def test_modwt_any_chunking(chunks):
    x = np.random.default_rng(len(chunks)).standard_normal((1000,))
    assert_equal_in_memory(wavedil.modwt, x, chunks, wavelet="db2", levels=5)
    assert_equal_in_memory(functools.partial(wavedil.modwt, wavelet="la8", levels=3), x, chunks)


def test_torch_module():
    torch = pytest.importorskip("torch")
    from wavedil.nn import TCN

    torch.manual_seed(0)
    model = TCN(1, [4, 4], kernel_size=3, dilations=[1, 8]).eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 900)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.as_tensor(x)).numpy()
    got = apply(model, da.from_array(x, chunks=(2, 1, 100))).compute()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@given(st.lists(st.integers(1, 50), min_size=1, max_size=12), st.integers(1, 120))
def test_fit_chunks_merges_whole_chunks(chunks, smallest):
    fitted = fit_chunks(tuple(chunks), smallest)
    assert sum(fitted) == sum(chunks)
    assert len(fitted) == 1 or min(fitted) >= smallest
    cuts = set(np.cumsum(chunks).tolist())
    assert set(np.cumsum(fitted).tolist()) <= cuts  # only whole chunks are merged
    if min(chunks) >= smallest:
        assert fitted == tuple(chunks)


def comb(x, taps, spacing):
    """``y[n] = sum_k x[n - k spacing]``, zeros before the start (a user's function)."""
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [((taps - 1) * spacing, 0)])
    return sum(padded[..., k * spacing : k * spacing + x.shape[-1]] for k in range(taps))


def test_any_function_with_the_halo_it_needs():
    op = functools.partial(comb, taps=4, spacing=9)  # causal: 27 samples of past
    x = np.random.default_rng(8).standard_normal((1, 1, 500))
    lazy = apply(op, da.from_array(x, chunks=(1, 1, 40)), halo=(27, 0))
    np.testing.assert_allclose(lazy.compute(), op(x), rtol=0, atol=1e-12)


def test_a_signal_shorter_than_the_halo_is_one_block():
    op = wavedil.AtrousTransform("db4", 6, "centered")  # halo of hundreds of samples
    x = np.random.default_rng(4).standard_normal((1, 1, 90))
    assert_equal_in_memory(op, x, [7, 13, 70])
    assert_equal_in_memory(wavedil.mra, x[0], [30], wavelet="sym4", levels=6,
                           boundary="periodic")


def test_the_graph_is_linear_in_the_number_of_chunks():
    op = wavedil.Denoiser("db4", 3, window=500, hop=100)
    x = da.zeros((1, 1, 2**16), chunks=(1, 1, 2**11))

    def tasks(chunk):
        return len(dict(apply(op, x.rechunk((1, 1, chunk))).__dask_graph__()))

    assert tasks(2**11) < 2.2 * tasks(2**12)  # 32 chunks against 16
    assert tasks(2**11) < 12 * 32


def test_time_axis_other_than_last_and_leading_axes():
    op, halo = nonlinear_chain(2)
    x = np.random.default_rng(3).standard_normal((90, 1))  # (T, C=1): time first
    lazy = apply(op, da.from_array(x, chunks=(30, 1)), halo=halo, axis=0)
    assert lazy.shape == (90, 1)
    np.testing.assert_allclose(lazy.compute(), op(x.T).T, atol=1e-12)
    y = np.random.default_rng(5).standard_normal((700, 2))
    lazy = apply(wavedil.mra, da.from_array(y, chunks=(100, 1)), axis=0, wavelet="db2",
                 levels=3)
    want = wavedil.mra(y, "db2", 3, axis=0)
    assert lazy.shape == want.shape == (4, 700, 2)
    np.testing.assert_allclose(lazy.compute(), want, rtol=0, atol=1e-12)


def test_distributed_scheduler_in_threads():
    from distributed import Client, LocalCluster

    x = np.random.default_rng(6).standard_normal((1, 1, 5000))
    op = wavedil.Denoiser("db4", 3, window=800, hop=100)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, Client(cluster):
        got = apply(op, da.from_array(x, chunks=(1, 1, 1000))).compute()
    np.testing.assert_allclose(got, op(x), rtol=0, atol=1e-12)


def test_wrong_calls_are_refused_with_what_to_do():
    op, halo = nonlinear_chain(2)
    x = da.from_array(np.zeros((1, 1, 100)))
    with pytest.raises(TypeError, match="dask array, got ndarray"):
        apply(op, np.zeros((1, 1, 100)), halo=halo)
    with pytest.raises(ValueError, match=r"halo must be two integers >= 0, got \(-1, 0\)"):
        apply(op, x, halo=(-1, 0))
    with pytest.raises(TypeError, match="pass the operator, not a stream"):
        apply(wavedil.Denoiser().stream(), x)
    with pytest.raises(TypeError, match="use wavedil.AtrousTransform"):
        apply(wavedil.atrous, x, wavelet="db4")
    with pytest.raises(TypeError, match="options \\(levels\\) are for the functions"):
        apply(wavedil.Denoiser(), x, levels=3)
    with pytest.raises(ValueError, match="follows from its window and hop"):
        apply(wavedil.Denoiser(), x, halo=(1, 1))
    with pytest.raises(ValueError, match="give axis= to wavedil.dask.apply"):
        apply(functools.partial(wavedil.mra, wavelet="db4", axis=0), x)
    with pytest.raises(TypeError, match="denoise got unexpected options \\['window'\\]"):
        apply(wavedil.denoise, x, window=3)

    class Compressor:
        def process(self, c):
            return c

    with pytest.raises(ValueError, match="fn keeps a state"):
        apply(wavedil.Resynthesis("db4", 2, fn=Compressor()), x)
    with pytest.raises(ValueError, match="known, non-zero length"):
        apply(op, da.zeros((1, 1, 0)), halo=halo)


def test_a_block_with_the_wrong_window_raises():
    plan = plan_for(wavedil.AtrousTransform("haar", 2), 100)
    info = {None: {"array-location": [(0, 1), (20, 40)], "shape": (1, 100)}}
    with pytest.raises(RuntimeError, match=r"chunk \[20, 40\) got a window of 30 samples, "
                                           r"expected 23"):
        _block(np.zeros((1, 30)), plan, block_info=info)


def test_threaded_scheduler_is_the_default_and_results_are_lazy():
    calls = []

    def op(x):
        calls.append(x.shape[-1])
        return 2 * x

    lazy = apply(op, da.ones((1, 1, 1000), chunks=(1, 1, 250)), halo=(3, 2))
    assert calls == [1]  # only the layout probe ran
    with dask.config.set(scheduler="threads"):
        assert float(lazy.sum().compute()) == 2000.0
    assert sorted(calls[1:]) == [250 + 2, 3 + 250, 3 + 250 + 2, 3 + 250 + 2]  # the ends: no halo
