"""The compiled step kept ready (``TCNStream.process``): a chunk like the last one the
step took skips the general checks, so every change of the stream must send the next
chunk back through them.

Each test changes a stream between short chunks (a saved state loaded into the same
stream, the thread count, a reset into another layout, a close, a flush, a NaN) and
compares with the torch model offline (``wavedil.nn.TCN``, float64); a step still bound
to the old arrays would give other samples or take a chunk it must refuse. The tests also
count the general path's calls, so a ready step that never runs fails too.
"""

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil.models.tcn as tcn_module
from wavedil.nn import TCN, to_numpy

TOL = 1e-5  # float32 stream against the float64 offline output, relative to its scale


def models(alignment: str = "causal"):
    """A float64 torch TCN (the oracle) and its float32 numpy twin."""
    torch.manual_seed(0)
    options = {} if alignment == "causal" else {"alignment": alignment}
    model = TCN(3, [8, 6, 6], kernel_size=3, dilations=[1, 2, 4], out_channels=2,
                weight_norm=False, **options).eval().double()
    return model, to_numpy(copy.deepcopy(model).float())


def offline(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x.astype(np.float64))).numpy()


def close(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.max(np.abs(got - want)) <= TOL * np.max(np.abs(want))


def general_calls(stream) -> list:
    """Count the calls of ``stream``'s general path (``_process``)."""
    calls, general = [], stream._process

    def spy(chunk):
        calls.append(np.shape(chunk)[-1])
        return general(chunk)

    stream._process = spy
    return calls


@pytest.mark.parametrize("alignment", ["causal", "centered"])
def test_like_chunks_skip_the_general_path(alignment):
    """After the first short chunk past the fill, chunks like it run the ready step."""
    model, net = models(alignment)
    x = np.random.default_rng(1).standard_normal((1, 3, 120)).astype(np.float32)
    stream = net.stream()
    calls = general_calls(stream)
    out = [stream.process(x[..., t : t + 1]) for t in range(x.shape[-1])]
    out.append(stream.flush())
    close(np.concatenate(out, -1), offline(model, x))
    # the general path fixes the layout, fills the histories (and the lookahead); then
    # the step runs from the general path once and ready after that
    assert len(calls) <= stream.latency + 3, (len(calls), stream.latency)
    assert len(calls) < x.shape[-1] // 2


@settings(max_examples=12, deadline=None)
@given(back=st.integers(1, 40), sizes=st.lists(st.integers(1, 5), min_size=1, max_size=4),
       seed=st.integers(0, 2**31))
def test_a_state_loaded_into_the_same_stream_is_continued(back, sizes, seed):
    """Save, run on, load the saved state into the same stream: it continues from the
    saved point, as the offline model says (the ready step must not keep the arrays it
    ran on)."""
    model, net = models()
    x = np.random.default_rng(seed).standard_normal((1, 3, 200)).astype(np.float32)
    stream, at, i = net.stream(), 0, 0
    while at < 60:
        m = sizes[i % len(sizes)]
        stream.process(x[..., at : at + m])
        at, i = at + m, i + 1
    saved, mark = stream.state_dict(), at
    for t in range(at, at + back):
        stream.process(x[..., t : t + 1])
    stream.load_state_dict(saved)
    calls = general_calls(stream)
    rest = [stream.process(x[..., t : t + 1]) for t in range(mark, 200)]
    want = offline(model, x)[..., mark:]
    close(np.concatenate(rest, -1), want)
    assert len(calls) <= 2  # (the new state's layout checked, then its step made ready)


def test_thread_switches_reset_the_ready_step():
    """Switching ``threads`` between chunks of one sample gives the same samples bit for
    bit (the two-thread step's contract at one sample), each count running its own step."""
    _, net = models()
    x = np.random.default_rng(3).standard_normal((1, 3, 150)).astype(np.float32)
    one = net.stream()
    want = np.concatenate([one.process(x[..., t : t + 1]) for t in range(150)], -1)
    with net.stream() as stream:
        calls = general_calls(stream)
        got = []
        for t in range(150):
            if t in (40, 80, 120):
                stream.threads = 2 if stream.threads == 1 else 1
            got.append(stream.process(x[..., t : t + 1]))
        assert stream._runner is not None  # the two-thread step ran
    np.testing.assert_array_equal(np.concatenate(got, -1), want)
    # a few chunks when the stream starts, and after each switch at least one (the new
    # count's step is made ready there)
    assert 3 + 3 <= len(calls) <= 3 + 2 * 3, calls


def test_a_reset_into_another_layout_runs_the_general_checks():
    """3-D chunks, then ``reset`` and 2-D chunks of another dtype: equal to the model."""
    model, net = models()
    x = np.random.default_rng(4).standard_normal((1, 3, 50))
    stream = net.stream()
    for t in range(30):
        stream.process(x[..., t : t + 1].astype(np.float32))
    stream.reset()
    calls = general_calls(stream)
    out = [stream.process(x[0, :, t : t + 1]) for t in range(50)]
    assert out[0].dtype == np.float64 and out[0].shape == (2, 1)
    close(np.concatenate(out, -1)[None], offline(model, x))
    assert len(calls) <= 3


@pytest.mark.parametrize("end, error", [("close", "closed"), ("flush", "flushed")])
def test_after_close_or_flush_chunks_are_refused(end, error):
    _, net = models()
    x = np.zeros((1, 3, 1), np.float32)
    stream = net.stream()
    for _ in range(4):
        stream.process(x)
    calls = general_calls(stream)
    stream.process(x)
    assert calls == []  # the step was ready
    getattr(stream, end)()
    with pytest.raises(ValueError, match=error):
        stream.process(x)


def test_a_nan_after_ready_chunks_is_refused_and_changes_nothing():
    model, net = models()
    x = np.random.default_rng(5).standard_normal((1, 3, 80)).astype(np.float32)
    stream = net.stream()
    out = [stream.process(x[..., t : t + 1]) for t in range(40)]
    bad = x[..., 40:41].copy()
    bad[0, 1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN|finite"):
        stream.process(bad)
    out += [stream.process(x[..., t : t + 1]) for t in range(40, 80)]
    close(np.concatenate(out, -1), offline(model, x))


def test_longer_chunks_than_the_step_takes_go_the_general_way():
    model, net = models()
    m = tcn_module.STEP_SAMPLES
    x = np.random.default_rng(6).standard_normal((1, 3, 3 * m + 4)).astype(np.float32)
    stream = net.stream()
    out = [stream.process(x[..., t : t + 1]) for t in range(3)]  # the step made ready
    calls = general_calls(stream)
    parts = [x[..., 3 : m + 4], x[..., m + 4 : m + 5], x[..., m + 5 : m + 6],
             x[..., m + 6 :]]
    out += [stream.process(part) for part in parts]
    close(np.concatenate(out, -1), offline(model, x))
    assert calls == [m + 1, 2 * m - 2]


def test_a_saved_state_mid_stream_keeps_a_centered_tcn_exact():
    """A centered TCN's ``state_dict`` moves the histories out of the step's arena; the
    chunks after it (short, then long, then short) go on from there."""
    model, net = models("centered")
    x = np.random.default_rng(7).standard_normal((1, 3, 260)).astype(np.float32)
    stream = net.stream()
    out = [stream.process(x[..., t : t + 1]) for t in range(60)]
    stream.state_dict()
    out += [stream.process(x[..., t : t + 1]) for t in range(60, 100)]
    out.append(stream.process(x[..., 100:200]))
    out += [stream.process(x[..., t : t + 1]) for t in range(200, 260)]
    out.append(stream.flush())
    close(np.concatenate(out, -1), offline(model, x))


def in_memory(chunk: np.ndarray, how: str) -> np.ndarray:
    """The same samples in another memory layout."""
    if how == "contiguous":
        return np.ascontiguousarray(chunk)
    if how == "fortran":
        return np.asfortranarray(chunk)
    if how == "strided":  # every other sample of a twice-as-long buffer
        wide = np.zeros(chunk.shape[:-1] + (2 * chunk.shape[-1],), chunk.dtype)
        wide[..., ::2] = chunk
        return wide[..., ::2]
    if how == "reversed channels":  # a negative stride
        return np.ascontiguousarray(chunk[:, ::-1])[:, ::-1]
    frozen = chunk.copy()  # "readonly"
    frozen.flags.writeable = False
    return frozen


LAYOUTS = ["contiguous", "fortran", "strided", "reversed channels", "readonly"]


@settings(max_examples=15, deadline=None)
@given(hows=st.lists(st.sampled_from(LAYOUTS), min_size=1, max_size=5),
       sizes=st.lists(st.integers(1, 6), min_size=1, max_size=4),
       alignment=st.sampled_from(["causal", "centered"]), seed=st.integers(0, 2**31))
def test_any_memory_layout_of_a_chunk_runs_ready(hows, sizes, alignment, seed):
    """The ready step calls its compiled kernel without numba's type dispatch: chunks of
    any strides (contiguous, Fortran order, strided, negative strides, read-only) give the
    offline model's samples."""
    model, net = models(alignment)
    x = np.random.default_rng(seed).standard_normal((1, 3, 90)).astype(np.float32)
    stream, out, at, i = net.stream(), [], 0, 0
    while at < x.shape[-1]:
        m = sizes[i % len(sizes)]
        out.append(stream.process(in_memory(x[..., at : at + m], hows[i % len(hows)])))
        at, i = at + m, i + 1
    out.append(stream.flush())
    close(np.concatenate(out, -1), offline(model, x))


def test_a_reset_into_the_same_layout_starts_afresh():
    """``reset`` and chunks of the same layout: the stream starts from silence (a step
    still bound to the old arena would go on from the old samples)."""
    model, net = models()
    rng = np.random.default_rng(8)
    first, x = rng.standard_normal((2, 1, 3, 60)).astype(np.float32)
    stream = net.stream()
    for t in range(60):
        stream.process(first[..., t : t + 1])
    stream.reset()
    out = [stream.process(x[..., t : t + 1]) for t in range(60)]
    close(np.concatenate(out, -1), offline(model, x))


def test_a_causal_stream_saved_after_every_chunk_stays_ready():
    """A checkpoint per chunk (``state_dict``) leaves a causal stream's step ready (only a
    stream with lookahead moves its histories out of an arena), and changes no sample."""
    model, net = models()
    x = np.random.default_rng(9).standard_normal((1, 3, 60)).astype(np.float32)
    stream = net.stream()
    out = [stream.process(x[..., t : t + 1]) for t in range(5)]
    calls = general_calls(stream)
    for t in range(5, 60):
        out.append(stream.process(x[..., t : t + 1]))
        stream.state_dict()
    close(np.concatenate(out, -1), offline(model, x))
    assert calls == []
