"""A stream is a single-consumer object: a call from a second thread while another thread is
in ``process``/``flush``/``reset``/``state_dict``/``load_state_dict`` raises RuntimeError and
changes nothing; the first call finishes as if alone. Every registry entry is checked with a
forced overlap (the first call blocks inside the stream until the second was refused)."""

import threading

import numpy as np
import pytest
from contract import split
from hostile import record
from registry import ENTRIES, build, layouts, make_input

import wavedil
from wavedil.engine.stream import Stream

NAMES = sorted(ENTRIES)
WAIT = 30.0  # seconds: a generous bound for a thread to reach its blocking point
CALLS = ("process", "flush", "reset", "state_dict", "load_state_dict")


def inner(stream) -> Stream:
    """The package's stream behind registry adapters (``inner``, ``stream``)."""
    while not isinstance(stream, Stream):
        stream = getattr(stream, "inner", None) or stream.stream
    return stream


class Gate:
    """Wraps a stream method so that its next call waits inside until ``release``."""

    def __init__(self, stream: Stream, method: str) -> None:
        self.entered, self.released = threading.Event(), threading.Event()
        original = getattr(stream, method)

        def blocking(*args, **kwargs):
            self.entered.set()
            assert self.released.wait(WAIT), "never released"
            return original(*args, **kwargs)

        setattr(stream, method, blocking)  # on the instance: this stream only


def run_in_thread(function) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def target():
        try:
            result["value"] = function()
        except BaseException as error:  # reported by the test
            result["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


def second_calls(op, stream, chunk, state):
    """Each public call, as a second thread would make it."""
    return {"process": lambda: stream.process(chunk), "flush": stream.flush,
            "reset": stream.reset, "state_dict": stream.state_dict,
            "load_state_dict": lambda: stream.load_state_dict(state)}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("blocked", ["process", "flush"])
def test_overlapping_calls_raise_and_change_nothing(name, blocked):
    entry = ENTRIES[name]
    layout = "batch" if "batch" in entry.layouts else layouts(entry)[-1]
    batch = 2 if layout == "batch" else None
    dtype = np.float32 if np.float32 in entry.dtypes else entry.dtypes[0]
    x = make_input(entry, layout, 60, dtype, 3)
    chunks = split(x, [17])
    op = build(name)
    clean = op.stream(batch=batch)
    want = [np.asarray(clean.process(c)) for c in chunks] + [np.asarray(clean.flush())]

    stream = op.stream(batch=batch)
    outs = [np.asarray(stream.process(chunks[0]))]
    state = stream.state_dict()
    target = inner(stream)
    method = "step" if blocked == "process" else "finish"
    if isinstance(target, wavedil.DecimatedCWTStream):  # (its own process/flush feed _feed)
        method = "_feed"
    if blocked == "process":
        gate = Gate(target, method)
        thread, result = run_in_thread(lambda: stream.process(chunks[1]))
    else:
        for chunk in chunks[1:]:
            outs.append(np.asarray(stream.process(chunk)))
        gate = Gate(target, method)
        thread, result = run_in_thread(stream.flush)
    assert gate.entered.wait(WAIT), "the first call never reached the stream"
    for call, second in second_calls(op, stream, chunks[1], state).items():
        with pytest.raises(RuntimeError, match="single-consumer object") as error:
            second()
        assert f".{call}()" in str(error.value), str(error.value)
        record("threads", "refused")
    gate.released.set()
    thread.join(WAIT)
    assert not thread.is_alive() and "error" not in result, result.get("error")
    outs.append(np.asarray(result["value"]))
    if blocked == "process":
        for chunk in chunks[2:]:
            outs.append(np.asarray(stream.process(chunk)))
        outs.append(np.asarray(stream.flush()))
    for got, expected in zip(outs, want):  # as if the refused calls never happened
        np.testing.assert_array_equal(got, expected)
    assert len(outs) == len(want)
    record("threads", "accepted")


def test_threads_hammering_one_stream_lose_no_sample():
    """Four threads feed one AtrousStream 2000 chunks: every call either runs whole or is
    refused, and the stream counts exactly the samples of the calls that ran."""
    stream = wavedil.AtrousStream("starlet", 3)
    chunk = np.ones(10)
    stream.process(chunk[:0])
    ran, refused = [], []
    start = threading.Barrier(4)

    def work():
        start.wait()
        for _ in range(500):
            try:
                stream.process(chunk)
                ran.append(1)
            except RuntimeError:
                refused.append(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ran) + len(refused) == 2000
    assert int(stream.state_dict()["count"]) == 10 * len(ran)
    for _ in range(len(ran)):
        record("threads", "accepted")
    for _ in range(len(refused)):
        record("threads", "refused")


def test_a_stream_may_move_between_threads():
    """Single consumer, not single thread: calls one after another from different threads
    are fine."""
    layer = wavedil.DilatedConv1d(np.random.default_rng(0).standard_normal((2, 1, 3)),
                                  dilation=2)
    x = np.random.default_rng(1).standard_normal(50)
    stream = layer.stream()
    outs = []
    for part in (x[:20], x[20:]):
        thread, result = run_in_thread(lambda part=part: stream.process(part))
        thread.join(WAIT)
        outs.append(result["value"])
    np.testing.assert_allclose(np.concatenate(outs, -1), layer(x), rtol=1e-12, atol=1e-12)


def test_separate_streams_of_one_model_run_in_parallel():
    """Streams share no state: one model, one stream per thread, each equals the offline
    output."""
    tcn = wavedil.TCN(1, [4, 4], kernel_size=3, dilations=[1, 4], out_channels=1, seed=4)
    signals = np.random.default_rng(2).standard_normal((4, 1, 3000))
    results: dict[int, np.ndarray] = {}

    def run(i):
        stream = tcn.stream()
        results[i] = np.concatenate([stream.process(signals[i, :, j:j + 37])
                                     for j in range(0, 3000, 37)], -1)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(4):
        np.testing.assert_allclose(results[i], tcn(signals[i]), rtol=1e-12, atol=1e-12)


def test_two_torch_streams_of_one_module_do_not_mix():
    """A torch stream installs its steppers in the module for the length of a call: a
    second stream of the same module called meanwhile from another thread is refused."""
    torch = pytest.importorskip("torch")
    from wavedil.nn import TCN

    torch.manual_seed(0)
    module = TCN(1, [3], kernel_size=3).eval()
    first, second = module.stream(batch=1), module.stream(batch=1)
    x = np.random.default_rng(0).standard_normal((1, 1, 20)).astype(np.float32)
    gate = Gate(module.blocks[0].conv1, "forward")
    thread, result = run_in_thread(lambda: first.process(x))
    assert gate.entered.wait(WAIT)
    with pytest.raises(RuntimeError, match="already streaming"):
        second.process(x)
    gate.released.set()
    thread.join(WAIT)
    assert "error" not in result, result.get("error")
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(result["value"].numpy(), expected, rtol=1e-5, atol=1e-6)
    record("threads", "refused")
