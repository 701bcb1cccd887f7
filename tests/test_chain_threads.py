"""The compiled chain step on two threads (``TCN.stream(threads=2)``,
wavedil.engine.chain_threads): at one sample per chunk the same output bit for bit as the
one-thread stream (the same summation per output, split by output channels), at any
chunking the one-thread and the offline output within the contract's tolerance (from two
samples on the products are BLAS calls, summed in BLAS's order), the same states, and a
worker thread that sleeps, wakes, stops and fails cleanly. Streams run chunks shorter than
``TWO_THREAD_SAMPLES`` on the calling thread alone; here (but in the tests of that rule)
every chunk takes the two threads, so that the step's one-sample path stays tested.

Oracles: the one-thread stream (``wavedil.engine._jit.chain``, itself checked against the
documented summation order in tests/test_jit_chain.py) and the offline call.
"""

import gc
import os
import threading
import time

import numpy as np
import pytest
from helpers import TOL
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil.engine.chain_threads as chain_threads
import wavedil.models.tcn as tcn_module
from wavedil.engine._jit import chain_parts
from wavedil.models.tcn import STEP_SAMPLES, TCN, TWO_THREAD_SAMPLES

WORKER = "wavedil-chain-worker"
LONG = STEP_SAMPLES + 6  # a first chunk the fused chain takes (the same on any thread count)


@pytest.fixture(autouse=True, scope="module")
def two_threads_from_one_sample():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tcn_module, "TWO_THREAD_SAMPLES", 1)
        yield


def workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == WORKER]


def wait_until(condition, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True


def feed(stream, x, sizes):
    out, i = [], 0
    for n in sizes:
        out.append(stream.process(x[..., i : i + n]))
        i += n
    out.append(stream.process(x[..., i:]))
    return np.concatenate(out, axis=-1)


def chunk_sizes(short_only: bool = False):
    size = st.integers(1, STEP_SAMPLES) if short_only else st.one_of(
        st.integers(1, STEP_SAMPLES), st.integers(1, STEP_SAMPLES), st.integers(17, 90))
    return st.lists(size, min_size=1, max_size=40)


@st.composite
def tcns(draw):
    widths = draw(st.lists(st.integers(1, 9), min_size=1, max_size=3))
    dilations = draw(st.lists(st.integers(1, 4), min_size=len(widths), max_size=len(widths)))
    head = draw(st.one_of(st.none(), st.integers(1, 5)))
    return TCN(draw(st.integers(1, 6)), widths, kernel_size=draw(st.integers(2, 3)),
               dilations=dilations, out_channels=head, seed=draw(st.integers(0, 99)))


@settings(max_examples=25, deadline=None)
@given(tcns(), st.integers(1, 3), st.sampled_from([np.float32, np.float64]), chunk_sizes(),
       st.integers(0, 2**16))
def test_two_threads_equal_one_thread(tcn, batch, dtype, sizes, seed):
    """Any TCN, batch, dtype and chunking (short chunks on the compiled step, longer ones on
    the fused chain between them): the two-thread stream's output is the one-thread
    stream's and the offline output within tolerance."""
    x = np.random.default_rng(seed).standard_normal(
        (batch, tcn.in_channels, sum(sizes) + 7)).astype(dtype)
    one = feed(tcn.stream(), x, sizes)
    with tcn.stream(threads=2) as stream:
        two = feed(stream, x, sizes)
    tol = TOL[np.dtype(dtype)] * 10
    np.testing.assert_allclose(two, one, rtol=0, atol=tol)
    np.testing.assert_allclose(two, tcn(x), rtol=0, atol=tol)


def test_chunks_of_one_sample_bit_for_bit():
    """After a long first chunk, chunks of one sample: one and two threads bit for bit."""
    tcn = TCN(3, [7, 5], kernel_size=3, dilations=[2, 1], out_channels=2, seed=4)
    x = np.random.default_rng(8).standard_normal((2, 3, LONG + 50))
    sizes = [LONG] + [1] * 49
    with tcn.stream(threads=2) as stream:
        assert np.array_equal(feed(tcn.stream(), x, sizes), feed(stream, x, sizes))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_chain_at_every_short_chunk(dtype):
    """64 channels split 32 / 32 and 7 channels 3 / 4, with and without a projection and a
    head, at chunks of 1, 2, 8, 32 and 64 samples: one and two threads agree within the
    contract's tolerance (bit for bit at one sample), and with the offline output."""
    rng = np.random.default_rng(5)
    for tcn in (TCN(64, [64, 64], kernel_size=3, dilations=[1, 8], seed=3),
                TCN(3, [7, 5], kernel_size=3, dilations=[2, 1], out_channels=2, seed=4)):
        x = rng.standard_normal((2, tcn.in_channels, 400)).astype(dtype)
        sizes = [LONG] + [1] * 20 + [2] * 10 + [8] * 5 + [32] * 3 + [64] * 2
        with tcn.stream(threads=2) as stream:
            one, two = feed(tcn.stream(), x, sizes), feed(stream, x, sizes)
        tol = TOL[np.dtype(dtype)] * 10
        np.testing.assert_allclose(two, one, rtol=0, atol=tol)
        np.testing.assert_allclose(two, tcn(x), rtol=0, atol=tol)
        assert np.array_equal(one[..., : LONG + 20], two[..., : LONG + 20])


def test_lookahead_tcn_takes_threads_and_stays_exact():
    """A TCN with lookahead runs the Python runtime (no compiled chain step): ``threads=2``
    changes nothing and starts no thread."""
    tcn = TCN(2, [4, 3], kernel_size=3, dilations=[1, 4], out_channels=1,
              alignment="centered", seed=1)
    x = np.random.default_rng(1).standard_normal((2, 60))
    before = len(workers())
    with tcn.stream(threads=2) as stream:
        y = np.concatenate([feed(stream, x, [1] * 30), stream.flush()], axis=-1)
        assert len(workers()) == before
    one = tcn.stream()
    assert np.array_equal(y, np.concatenate([feed(one, x, [1] * 30), one.flush()], axis=-1))


def small_tcn():
    return TCN(2, [6, 5], kernel_size=3, dilations=[1, 2], out_channels=1, seed=2)


def test_idle_worker_sleeps_and_wakes():
    """After an idle spell longer than its spin, the worker sleeps on its event; the next
    chunk wakes it and the output is unchanged."""
    tcn = small_tcn()
    x = np.random.default_rng(2).standard_normal((2, LONG + 60)).astype(np.float32)
    with tcn.stream(threads=2) as stream:
        first = feed(stream, x[:, : LONG + 20], [LONG] + [1] * 19)
        ctl = stream._runner._control.ctl
        assert wait_until(lambda: ctl[chain_parts.STATE] == chain_parts.ASLEEP)
        time.sleep(2 * chain_threads.SPIN_SECONDS)
        second = feed(stream, x[:, LONG + 20 :], [1] * 39)
    assert np.array_equal(np.concatenate([first, second], -1),
                          feed(tcn.stream(), x, [LONG] + [1] * 58))


def test_close_stops_the_worker_and_refuses_chunks():
    tcn = small_tcn()
    stream = tcn.stream(threads=2)
    stream.process(np.zeros((2, 30)))
    stream.process(np.zeros((2, 1)))
    runner = stream._runner
    assert runner.alive
    stream.close()
    assert not runner.alive
    with pytest.raises(ValueError, match="closed"):
        stream.process(np.zeros((2, 1)))


def test_dropping_the_stream_ends_its_thread():
    tcn = small_tcn()
    before = set(workers())
    stream = tcn.stream(threads=2)
    stream.process(np.zeros((2, 30)))
    stream.process(np.zeros((2, 1)))
    started = set(workers()) - before
    assert len(started) == 1
    del stream
    gc.collect()
    assert wait_until(lambda: not started & set(workers()))


@pytest.mark.parametrize("source, target", [(2, 1), (1, 2)])
def test_state_moves_between_thread_counts(source, target):
    """A state saved from a two-thread stream restores into a one-thread stream and the
    other way round: the continuations agree bit for bit."""
    tcn = small_tcn()
    x = np.random.default_rng(3).standard_normal((2, LONG + 45))
    with tcn.stream(threads=source) as a, tcn.stream(threads=target) as b:
        feed(a, x[:, : LONG + 15], [LONG] + [1] * 14)
        b.load_state_dict(a.state_dict())
        rest = x[:, LONG + 15 :]
        assert np.array_equal(feed(a, rest, [1] * 29), feed(b, rest, [1] * 29))


@settings(max_examples=15, deadline=None)
@given(chunk_sizes(short_only=True), st.lists(st.sampled_from([1, 2]), min_size=1,
                                              max_size=6), st.integers(0, 2**16))
def test_a_stream_switches_thread_count_at_any_chunk(sizes, switches, seed):
    """The same states: a stream whose state moves to a stream of the other thread count
    after every few chunks (any chunking on the compiled step) equals one stream on one
    thread within tolerance, and its saved states hold the same keys and shapes."""
    tcn = TCN(4, [64, 64], kernel_size=3, dilations=[1, 4], seed=7)
    x = np.random.default_rng(seed).standard_normal((1, 4, 20 + sum(sizes))).astype(np.float32)
    whole = feed(tcn.stream(), x, [20] + sizes)
    out, at, stream = [], 0, tcn.stream(threads=switches[0])
    pieces = [20] + sizes
    for k, n in enumerate(pieces):
        out.append(stream.process(x[..., at : at + n]))
        at += n
        threads = switches[(k + 1) % len(switches)]
        if threads != stream.threads:
            state = stream.state_dict()
            stream.close()
            stream = tcn.stream(threads=threads)
            stream.load_state_dict(state)
            assert {k: v.shape for k, v in stream.state_dict().items()} == \
                {k: v.shape for k, v in state.items()}
    out.append(stream.process(x[..., at:]))
    stream.close()
    np.testing.assert_allclose(np.concatenate(out, -1), whole, rtol=0,
                               atol=TOL[np.dtype(np.float32)] * 10)


def test_a_copied_stream_continues_on_its_own_worker():
    """A deep copy of a two-thread stream mid-stream (chunks of 8 and 32) continues as the
    original does, on its own worker thread."""
    import copy

    tcn = TCN(4, [64, 64], kernel_size=3, dilations=[1, 4], seed=9)
    x = np.random.default_rng(9).standard_normal((1, 4, 200)).astype(np.float32)
    with tcn.stream(threads=2) as stream:
        feed(stream, x[..., :60], [20, 8, 32])
        twin = copy.deepcopy(stream)
        assert twin._runner is not stream._runner
        tail = feed(stream, x[..., 60:], [8, 32, 32, 8])
        with twin:
            assert np.array_equal(feed(twin, x[..., 60:], [8, 32, 32, 8]), tail)
            assert twin._runner.alive


@pytest.mark.parametrize("threads, error", [(0, ValueError), (3, ValueError),
                                            (1.5, TypeError), (True, TypeError)])
def test_thread_count_is_checked(threads, error):
    with pytest.raises(error, match="threads"):
        small_tcn().stream(threads=threads)


def test_a_failing_worker_raises_in_the_caller(monkeypatch):
    """The worker's exception reaches the caller as the cause of a RuntimeError (no hang),
    and the stream refuses further chunks."""
    def broken(control):
        control.error = OSError("worker broke")
        control.ctl[chain_parts.FAILED] = 1

    monkeypatch.setattr(chain_threads, "_work", broken)
    stream = small_tcn().stream(threads=2)
    stream.process(np.zeros((2, 30)))
    with pytest.raises(RuntimeError, match="worker broke"):
        for _ in range(1000):
            stream.process(np.zeros((2, 1)))
            time.sleep(0.001)
    with pytest.raises(ValueError, match="close"):
        stream.process(np.zeros((2, 1)))


def test_a_missing_worker_leaves_the_caller_every_part(monkeypatch):
    """A worker that never comes (a busy machine) costs no wait: the caller claims and
    computes both parts of every phase, the output of a stream whose worker came."""
    tcn = small_tcn()
    x = np.random.default_rng(6).standard_normal((2, LONG + 150))
    sizes = [LONG] + [1] * 30 + [8] * 5 + [32] * 2
    with tcn.stream(threads=2) as stream:
        shared = feed(stream, x, sizes)
    monkeypatch.setattr(chain_threads, "_work", lambda control: None)
    start = time.monotonic()
    with tcn.stream(threads=2) as stream:
        two = feed(stream, x, sizes)
    assert time.monotonic() - start < 2
    one = feed(tcn.stream(), x, sizes)
    assert np.array_equal(two, shared)  # whoever computes a part: the same sums
    assert np.array_equal(two[:, : LONG + 30], one[:, : LONG + 30])
    np.testing.assert_allclose(two, one, rtol=0, atol=TOL[np.dtype(np.float64)] * 10)


def test_the_caller_gives_up_on_a_claimed_part():
    """A part the worker claimed and never finished: the caller's wait ends after the
    timeout with -1 (the runner then raises), it does not hang."""
    tcn = small_tcn()
    stream = tcn.stream()
    stream.process(np.zeros((1, 2, 30)))
    step, arena = stream._step, stream.state.histories.arena
    weights, offsets = step.parts(2)
    ctl = chain_parts.control()
    ctl[chain_parts.TIMEOUT] = int(0.05 * chain_threads.ticks_per_second())
    ctl[chain_parts.TAKEN] = 1  # the worker claimed phase 1, finished nothing
    scratch = np.empty(chain_parts.scratch_size(step.convs, 1, 16), step.dtype)
    assert chain_parts.prepare(np.zeros((1, 2, 1)), False, step.convs, step.blocks,
                               arena.buffer, arena.table)
    ctl[chain_parts.BATCH], ctl[chain_parts.SAMPLES] = 1, 1
    y = np.empty((1, 1, 1))
    start = time.monotonic()
    assert chain_parts.lead(np.zeros((1, 2, 1)), y, True, False, ctl, weights, offsets,
                            step.convs, step.blocks, arena.buffer, arena.table, scratch) == -1
    assert time.monotonic() - start < 3


def test_copies_and_forks_get_their_own_worker():
    """A copy of the runner is a fresh one (the worker thread is not state); a forked child
    starts its own worker and computes what the parent computes."""
    import copy

    tcn = small_tcn()
    x = np.random.default_rng(4).standard_normal((2, 60))
    with tcn.stream(threads=2) as stream:
        feed(stream, x[:, :30], [20] + [1] * 9)
        twin = copy.deepcopy(stream._runner)
        assert stream._runner.alive and not twin.alive and not twin.closed
        if hasattr(os, "fork"):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: its chunks, through the pipe
                try:
                    os.write(write, feed(stream, x, [1] * 10).tobytes())
                finally:
                    os._exit(0)
            os.close(write)
            with os.fdopen(read, "rb") as pipe:
                child = np.frombuffer(pipe.read(), np.float64)
            os.waitpid(pid, 0)
            assert np.array_equal(child, feed(stream, x, [1] * 10).ravel())


def test_a_step_with_delay_lines_is_refused():
    """The two-thread phases read each residual from its first conv's history: a step
    whose blocks keep delay lines (a TCN with lookahead longer than a span) is refused
    before the worker starts, not run wrong."""
    import torch

    from wavedil.engine.chain_threads import ChainThreads
    from wavedil.nn import TCN, to_numpy

    torch.manual_seed(0)
    model = TCN(3, [8, 6], kernel_size=3, dilations=[1, 2], weight_norm=False,
                alignment=[(0, 2), (0, 2), (4, 0), (0, 4)]).eval()
    stream = to_numpy(model).stream()
    x = np.random.default_rng(0).standard_normal((1, 3, 40))
    stream.process(x)  # past the fill: the arena is live
    ahead = stream._ahead
    histories = stream._arena_histories(1)
    assert ahead.delays and histories is not None
    runner = ChainThreads()
    try:
        with pytest.raises(ValueError, match=r"keeps delay lines \(blocks \[0\]\)"):
            runner(ahead.step, x[..., :1], histories)
    finally:
        runner.close()


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(1, TWO_THREAD_SAMPLES - 1), min_size=1, max_size=30),
       st.integers(0, 2**16))
def test_short_chunks_stay_on_the_calling_thread(sizes, seed):
    """Chunks shorter than ``TWO_THREAD_SAMPLES``: a stream with ``threads=2`` runs the
    one-thread step (bit for bit its output) and starts no worker; its first longer chunk
    starts one, and the stream stays within tolerance of the offline output."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tcn_module, "TWO_THREAD_SAMPLES", TWO_THREAD_SAMPLES)
        tcn = TCN(3, [8, 8], kernel_size=3, dilations=[1, 4], seed=6)
        x = np.random.default_rng(seed).standard_normal((1, 3, LONG + sum(sizes) + 40))
        with tcn.stream(threads=2) as stream:
            one = tcn.stream()
            two = feed(stream, x[..., :-40], [LONG] + sizes)
            assert np.array_equal(two, feed(one, x[..., :-40], [LONG] + sizes))
            assert stream._runner is None or not stream._runner.alive
            tail = stream.process(x[..., -40:])  # two threads from here
            assert stream._runner is not None and stream._runner.alive
        np.testing.assert_allclose(np.concatenate([two, tail], -1), tcn(x), rtol=0,
                                   atol=TOL[x.dtype] * 10)
