"""Offline model calls split over threads by batch rows or in time (wavedil.models.parallel).

The oracle is the serial offline call (one fresh stream over the whole signal) and, for a
long signal, torch: any number of threads and any length give the same output within the
DESIGN.md tolerances, conditioning signals are cut with the audio, and the process's BLAS
thread count is what it was before.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_info

from wavedil.models import parallel
from wavedil.models.stack import TCN, WaveNet
from wavedil.nn import TCN as TorchTCN
from wavedil.nn import to_numpy

TOL = {np.float32: 1e-5, np.float64: 1e-12}
MODELS = {
    "tcn": TCN(2, [4, 6, 6], kernel_size=3, dilations=[1, 8, 64], out_channels=1, seed=1),
    "wavenet_cond": WaveNet(1, 6, 8, 5, kernel_size=3, dilations=[1, 4, 16],
                            global_cond_channels=2, local_cond_channels=3, seed=4),
    # lookahead: each stretch also runs `latency` samples past its end
    "tcn_centered": TCN(2, [4, 6, 6], kernel_size=3, dilations=[1, 4, 16], out_channels=1,
                        alignment="centered", activation="tanh", seed=5),
    "wavenet_cond_centered": WaveNet(1, 6, 8, 5, kernel_size=3, dilations=[1, 4, 16],
                                     global_cond_channels=2, local_cond_channels=3,
                                     alignment="centered", seed=6),
}


def serial(model, x, cond):
    stream = model.stream()
    return np.concatenate([stream.process(x, **cond), stream.flush()], axis=-1)


def close(a, b, dtype):
    assert a.shape == b.shape and a.dtype == b.dtype == dtype
    assert b.size == 0 or np.max(np.abs(a - b)) <= TOL[dtype] * max(np.max(np.abs(b)), 1e-30)


@given(st.integers(0, 10**6), st.integers(0, 5000), st.integers(1, 16))
def test_stretches_tile_the_signal(n, past, workers):
    parts = parallel.stretches(n, past, workers)
    assert parts[0][0] == 0 and parts[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
    assert 1 <= len(parts) <= workers
    if len(parts) > 1:
        assert min(b - a for a, b in parts) >= max(parallel.MIN_STRETCH, 4 * past)


@given(st.integers(1, 64), st.integers(0, 10**5), st.integers(1, 16))
def test_batch_groups_tile_the_batch(batch, n, workers):
    groups = parallel.batch_groups(batch, n, workers)
    assert groups[0][0] == 0 and groups[-1][1] == batch
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(groups, groups[1:]))
    assert 1 <= len(groups) <= min(workers, batch)
    if len(groups) > 1:
        assert min(b - a for a, b in groups) * n >= parallel.MIN_STRETCH


@pytest.mark.parametrize("name", sorted(MODELS))
@settings(max_examples=15, deadline=None)
@given(data=st.data(), workers=st.integers(1, 5), batch=st.sampled_from([None, 1, 3, 5]),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_any_split_equals_one_stream(name, data, workers, batch, dtype):
    model = MODELS[name]
    n = data.draw(st.integers(0, 1500), label="length")
    rng = np.random.default_rng(n)
    lead = (model.in_channels,) if batch is None else (batch, model.in_channels)
    x = rng.standard_normal(lead + (n,)).astype(dtype)
    cond = {}
    if name.startswith("wavenet_cond"):
        cond_lead = lead[:-1]
        cond = {"global_cond": rng.standard_normal(cond_lead + (2,)).astype(dtype),
                "local_cond": rng.standard_normal(cond_lead + (3, n)).astype(dtype)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parallel, "MIN_STRETCH", 16)  # many short stretches
        y = model(x, workers=workers, **cond)
    close(y, serial(model, x, cond), dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_long_signals_and_batches_split_in_two_equal_torch(dtype):
    torch.manual_seed(0)
    model = TorchTCN(1, 8, kernel_size=3, dilations=[1, 4, 16, 64], out_channels=1)
    model = model.to(dtype).eval()
    twin = to_numpy(model)
    n = 2 * parallel.MIN_STRETCH + 1001
    assert len(parallel.stretches(n, twin.receptive_field - 1, 2)) == 2
    for x in (torch.randn(1, 1, n, dtype=dtype), torch.randn(4, 1, n // 2, dtype=dtype)):
        with torch.no_grad():
            expected = model(x).numpy()
        close(twin(x.numpy(), workers=2), expected, expected.dtype.type)


def test_blas_threads_are_restored_and_a_busy_split_runs_serially(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_STRETCH", 16)
    model = MODELS["tcn"]
    x = np.random.default_rng(0).standard_normal((2, 3000))
    before = [(i["filepath"], i["num_threads"]) for i in threadpool_info()]
    y = model(x, workers=3)
    assert [(i["filepath"], i["num_threads"]) for i in threadpool_info()] == before
    with parallel._SPLIT_LOCK:  # another thread is splitting: this call runs on one thread
        close(model(x, workers=3), y, np.float64)


def test_errors_in_a_stretch_reach_the_caller_and_workers_are_checked(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_STRETCH", 16)
    model = MODELS["tcn"]
    with pytest.raises(ValueError, match="expected 2 input channels, got 3"):
        model(np.zeros((3, 2000)), workers=2)
    with pytest.raises(ValueError, match="workers must be an integer >= 1, got 0"):
        model(np.zeros((2, 10)), workers=0)
    wavenet = MODELS["wavenet_cond"]
    with pytest.raises(ValueError, match="local_cond"):  # longer than the audio
        wavenet(np.zeros((1, 2000)), np.zeros(2), np.zeros((3, 2500)), workers=2)
    with pytest.raises(ValueError, match="global_cond"):  # rows for 3 signals, not 4
        wavenet(np.zeros((4, 1, 2000)), np.zeros((3, 2)), np.zeros((4, 3, 2000)), workers=2)
    assert not parallel._SPLIT_LOCK.locked()
