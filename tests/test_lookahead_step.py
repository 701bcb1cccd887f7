"""The compiled short-chunk step and the fused chain serve TCNs with lookahead
(``wavedil.models.tcn_lookahead``).

Once every conv's history is full, chunks of up to ``STEP_SAMPLES`` samples of a centered
(or otherwise aligned) TCN run in one compiled call, longer ones through the fused chain,
on an arena the histories are copied into; the rest (the fill, the flush, saved states)
runs on the conv streams. The oracle is the torch model offline (``wavedil.nn.TCN``,
explicit padding per conv); the tests count the compiled calls and fused runs, so a path
that silently never ran would fail.
"""

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
import wavedil.nn
from wavedil.models.tcn import STEP_SAMPLES, lookahead_steps
from wavedil.nn import TCN, to_numpy

TOL = {np.float32: 1e-5, np.float64: 1e-12}


def torch_tcn(dtype, **options):
    torch.manual_seed(0)
    model = TCN(3, [8, 6, 6], kernel_size=3, dilations=[1, 2, 4], out_channels=2,
                weight_norm=False, **options).eval()
    return model.double() if dtype == np.float64 else model.float()


def counted(stream, dtype=np.float64, runs=None):
    """Count the compiled step's calls on ``stream``'s model (its shared LookaheadStep),
    and in ``runs`` the chunk sizes its fused chain ran."""
    calls = []
    stream.process(np.zeros((1, stream.in_channels, 0), dtype))  # binds it (2-D chunks later)
    ahead = stream._ahead
    step = ahead.step
    kernel, run = step._kernel, ahead.run

    def spy(*args):
        calls.append(args[0].shape[-1])
        return kernel(*args)

    def spy_run(x, histories):
        runs.append(x.shape[-1])
        return run(x, histories)

    step._kernel = spy
    if runs is not None:
        ahead.run = spy_run
    return calls


def close(a, b, dtype):
    scale = max(np.max(np.abs(b)), 1e-30)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.max(np.abs(a.astype(np.float64) - b)) <= TOL[dtype] * scale


# lags 4, 4, 10 against first-conv spans 2, 4, 8: blocks 0 (3 -> 8 channels, projected) and
# 2 (6 -> 6) wait longer than their first conv keeps, so the arena keeps their delay lines
LATE = [(0, 2), (0, 2), (4, 0), (0, 4), (6, 2), (0, 8)]
ALIGNMENTS = {"centered": "centered", "late": LATE}
N = 2 * STEP_SAMPLES + 300  # samples streamed: room for chunks longer than the step takes


@pytest.mark.parametrize("alignment", sorted(ALIGNMENTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@settings(max_examples=10, deadline=None)
@given(sizes=st.lists(st.one_of(st.integers(1, 4), st.integers(5, STEP_SAMPLES),
                                st.integers(STEP_SAMPLES + 1, STEP_SAMPLES + 90)), min_size=1,
                      max_size=8),
       seed=st.integers(0, 2**31))
def test_a_tcn_with_lookahead_streams_through_the_compiled_step(alignment, dtype, sizes, seed):
    """Any chunking equals the torch model offline; after the fill every short chunk runs
    the compiled step and every longer one the fused chain on the same arena (counted)."""
    model = torch_tcn(dtype, alignment=ALIGNMENTS[alignment])
    twin = to_numpy(model)
    x = np.random.default_rng(seed).standard_normal((1, 3, N)).astype(dtype)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).double().numpy()
    stream, runs = twin.stream(), []
    calls = counted(stream, dtype, runs)
    parts, start, i, short_after_fill, long_after_fill = [], 0, 0, 0, 0
    while start < x.shape[-1]:
        m = sizes[i % len(sizes)]
        parts.append(stream.process(x[..., start : start + m]))
        filled = start >= stream.latency  # every history full (the lookahead has come in)
        short_after_fill += int(filled and 0 < min(m, N - start) <= STEP_SAMPLES)
        long_after_fill += int(filled and min(m, N - start) > STEP_SAMPLES)
        start, i = start + m, i + 1
    parts.append(stream.flush())
    close(np.concatenate(parts, -1), expected, dtype)
    assert len(calls) >= short_after_fill  # (the chunk that completes the fill may take it)
    assert len(runs) >= long_after_fill
    assert all(m <= STEP_SAMPLES for m in calls) and all(m > STEP_SAMPLES for m in runs)


def test_which_tcns_the_step_serves():
    """Bai et al.'s block with lookahead; causal TCNs run their own step, other options the
    conv streams."""
    assert lookahead_steps(to_numpy(torch_tcn(np.float64, alignment="centered")).config)
    assert lookahead_steps(to_numpy(torch_tcn(np.float64, alignment=LATE)).config)
    assert not lookahead_steps(to_numpy(torch_tcn(np.float64)).config)  # causal
    assert not lookahead_steps(to_numpy(torch_tcn(np.float64, alignment="centered",
                                                  activation="gelu")).config)


@settings(max_examples=6, deadline=None)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=5), seed=st.integers(0, 99))
def test_pytorch_tcn_non_causal_streams_through_the_compiled_step(sizes, seed):
    """pytorch-tcn's ``causal=False`` at its default kernel size 4 pads one sample more on
    the right (lag 4 > span 3: the arena keeps the delay lines), converted and streamed."""
    import pytorch_tcn

    torch.manual_seed(seed)
    theirs = pytorch_tcn.TCN(2, [8, 8, 6], causal=False, use_norm=None).eval()
    twin = to_numpy(wavedil.nn.from_pytorch_tcn(theirs))
    assert lookahead_steps(twin.config) and twin.latency == 2 * (2 + 3 + 6)
    x = np.random.default_rng(seed).standard_normal((1, 2, 300)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    stream = twin.stream()
    calls = counted(stream, np.float32)
    parts, start, i = [], 0, 0
    while start < 300:
        parts.append(stream.process(x[..., start : start + sizes[i % len(sizes)]]))
        start, i = start + sizes[i % len(sizes)], i + 1
    parts.append(stream.flush())
    close(np.concatenate(parts, -1), expected.astype(np.float64), np.float32)
    assert calls


def test_states_copies_and_refusals_mid_step():
    """A state saved while the step runs continues on a fresh numpy stream and on the torch
    stream; a deep copy continues bit for bit; a NaN is refused with nothing changed."""
    model = torch_tcn(np.float64, alignment="centered")
    twin = to_numpy(model)
    x = np.random.default_rng(2).standard_normal((1, 3, 200))
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    stream = twin.stream()
    calls = counted(stream)
    head = [stream.process(x[..., t : t + 1]) for t in range(100)]
    assert calls and stream._arena_live
    state = {k: np.array(v) for k, v in stream.state_dict().items()}
    bad = x[..., 100:101].copy()
    bad[0, 1, 0] = np.nan
    with pytest.raises(ValueError, match="chunk"):
        stream.process(bad)
    np.testing.assert_equal(stream.state_dict(), state)
    twin_copy = copy.deepcopy(stream)
    numpy_next, torch_next = twin.stream(), model.stream()
    numpy_next.load_state_dict(state)
    torch_next.load_state_dict(state)
    rest = x[..., 100:]
    tails = []
    for s in (stream, twin_copy, numpy_next):
        tails.append(np.concatenate([s.process(rest[..., t : t + 2])
                                     for t in range(0, 100, 2)] + [s.flush()], -1))
    with torch.no_grad():
        tails.append(np.concatenate([torch_next.process(torch.from_numpy(rest)).numpy(),
                                     torch_next.flush().numpy()], -1))
    np.testing.assert_array_equal(tails[1], tails[0])  # the copy continues as the original
    np.testing.assert_array_equal(tails[2], tails[0])  # so does the loaded state
    for tail in tails:
        close(np.concatenate(head + [tail], -1), expected, np.float64)


def test_the_benchmark_tcn_centered_runs_the_step_at_one_sample():
    """The 64-channel, 18-conv TCN of the benchmark, centered: latency 1022 samples (the
    sum of its convs' lookahead, span // 2 each), and each one-sample chunk after the fill
    is one compiled call."""
    net = wavedil.TCN(64, 64, kernel_size=3, dilations=[2**i for i in range(9)],
                      alignment="centered", seed=0)
    assert net.latency == 2 * sum(2**i for i in range(9)) == 1022
    x = np.random.default_rng(3).standard_normal((1, 64, 1100)).astype(np.float32)
    stream = net.stream()
    calls = counted(stream, np.float32)
    y = np.concatenate([stream.process(x[..., :1030])] +
                       [stream.process(x[..., t : t + 1]) for t in range(1030, 1100)]
                       + [stream.flush()], -1)
    assert calls == [1] * 70
    close(y, net(x).astype(np.float64), np.float32)


def _smallest_budget(net, chunk):
    """The smallest memory budget (to 1 KiB) under which ``net``'s stream takes ``chunk``."""
    from wavedil.engine.params import set_memory_budget

    low, high = 1 << 10, 1 << 34
    previous = set_memory_budget(None)
    try:
        while high - low > 1 << 10:
            middle = (low + high) // 2
            set_memory_budget(middle)
            try:
                net.stream().process(chunk)
                high = middle
            except ValueError as error:
                assert "memory budget" in str(error)
                low = middle
    finally:
        set_memory_budget(previous)
    return high


def test_a_tcn_with_lookahead_budgets_its_histories_twice():
    """Its conv streams and the compiled step's arena each hold every history: the
    smallest budget that takes a chunk grows by one set of histories (``span`` samples and
    room for ``max(span, BLOCK)`` more, ``C_in`` channels, float32) against the causal TCN."""
    from wavedil.models.base import BLOCK

    dilations = [1, 64, 4096]
    causal = wavedil.TCN(16, 16, kernel_size=3, dilations=dilations, seed=0)
    centered = wavedil.TCN(16, 16, kernel_size=3, dilations=dilations, alignment="centered",
                           seed=0)
    chunk = np.zeros((1, 16, 8), np.float32)
    histories = sum(2 * (2 * d + max(2 * d, BLOCK)) * 16 * 4 for d in dilations)
    grown = _smallest_budget(centered, chunk) - _smallest_budget(causal, chunk)
    assert abs(grown - histories) <= 2 << 10, (grown, histories)
