"""The streaming contract (tests/contract.py) for every entry of the registry (tests/registry.py),
and a check that the registry lists every streamable class the package ships."""

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
from contract import (
    CHECKS,
    check_states_in_fresh_process,
    check_streaming_contract,
    check_unused_flush,
    feed,
    finish,
    split,
)
from helpers import assert_close, chunk_sizes
from hypothesis import given, settings
from hypothesis import strategies as st
from registry import ENTRIES, build, layouts, make_input

import wavedil
import wavedil.models.base
import wavedil.nn.layers
import wavedil.nn.models
from wavedil.engine.conv import ConvStream
from wavedil.engine.stream import Stream

NAMES = sorted(ENTRIES)


def _stream_batch(layout):
    return 2 if layout == "batch" else None


# the torch entries take ~10 s each (a few ms per forward call): slow, `make quick` leaves
# them out (tests/test_nn.py checks torch streaming quickly)
CONTRACT_CASES = [pytest.param(name, marks=[pytest.mark.slow] if name.startswith("nn.") else [])
                  for name in NAMES]


@pytest.mark.parametrize("name", CONTRACT_CASES)
def test_streaming_contract(name):
    entry = ENTRIES[name]
    checks = tuple(c for c in CHECKS if c not in entry.gaps)

    @settings(max_examples=entry.examples, deadline=None)
    @given(layout=st.sampled_from(layouts(entry)), dtype=st.sampled_from(entry.dtypes),
           length=st.integers(0, entry.longest), sizes=chunk_sizes(entry.longest),
           seed=st.integers(0, 2**32 - 1))
    def check(layout, dtype, length, sizes, seed):
        x = make_input(entry, layout, length, dtype, seed)
        check_streaming_contract(build(name), x, sizes, batch=_stream_batch(layout),
                                 checks=checks)

    check()


GAPS = [(name, check) for name in NAMES for check in ENTRIES[name].gaps]


def test_known_gaps_still_fail():
    """The checks a class fails today (Entry.gaps) must still fail: a fixed gap is removed
    from the registry (none are listed now; the loop keeps the mechanism honest)."""
    for name, check in GAPS:
        entry = ENTRIES[name]
        layout = layouts(entry)[0]
        with pytest.raises(AssertionError):
            if check == "unused_flush_batch_shape":
                _check_unused_flush_batch_shape(entry)
            else:
                x = make_input(entry, layout, 50, entry.dtypes[0], 0)
                check_streaming_contract(build(name), x, [7, 0, 1, 13],
                                         batch=_stream_batch(layout), checks=(check,))


@pytest.mark.parametrize("name", NAMES)
def test_unused_flush_is_an_empty_float_array(name):
    check_unused_flush(build(name))
    check_unused_flush(build(name), batch=2)


def _check_unused_flush_batch_shape(entry):
    """``stream(batch=2).flush()`` before any chunk: the offline output's batch shape, 0
    samples (the issue: "an array of the stream's dtype and batch shape")."""
    op = build(entry.name)
    x = make_input(entry, "batch", 5, entry.dtypes[0], 0)
    check_unused_flush(op, batch=2, expected_shape=op(x).shape[:-1] + (0,))


@pytest.mark.parametrize("name", [n for n in NAMES
                                  if "unused_flush_batch_shape" not in ENTRIES[n].gaps])
def test_unused_flush_has_the_batch_shape(name):
    _check_unused_flush_batch_shape(ENTRIES[name])


@pytest.mark.slow
def test_states_continue_in_a_fresh_process(tmp_path):
    """Every entry's state, saved half way to a file, continues in one new Python process."""
    cases = []
    for name in NAMES:
        entry = ENTRIES[name]
        layout = "batch" if "batch" in entry.layouts else layouts(entry)[-1]
        dtype = np.float32 if np.float32 in entry.dtypes else entry.dtypes[0]
        x = make_input(entry, layout, 150, dtype, 1)
        cases.append((name, x, [7, 1, 0, 13, 31], _stream_batch(layout)))
    check_states_in_fresh_process(cases, tmp_path)


# -- the check can fail ------------------------------------------------------------------------
def _drop_first_sample(original):
    return lambda self, x: original(self, x)[..., 1:]


def _forget_state(original):
    return lambda self, state: None


def _mutate_then_refuse(original):
    def process(self, chunk):
        if np.asarray(chunk).dtype == np.float32:  # the bad chunk of a float64 stream
            original(self, np.zeros_like(chunk, dtype=np.float64))
        return original(self, chunk)
    return process


def _ignore_reset(original):
    def reset(self):  # may continue after flush, but remembers everything
        self.flushed = False
    return reset


@pytest.mark.parametrize(("method", "sabotage", "check"), [
    ("step", _drop_first_sample, "chunking"),
    ("load_state_dict", _forget_state, "state"),
    ("process", _mutate_then_refuse, "reject_dtype"),
    ("reset", _ignore_reset, "reset"),
])
def test_the_check_catches_a_broken_stream(monkeypatch, method, sabotage, check):
    op = build("DilatedConv1d-centered")
    x = make_input(ENTRIES["DilatedConv1d-centered"], "1d", 60, np.float64, 0)
    check_streaming_contract(op, x, [5, 0, 11], checks=(check,))  # passes unbroken
    monkeypatch.setattr(ConvStream, method, sabotage(getattr(ConvStream, method)))
    with pytest.raises(AssertionError):
        check_streaming_contract(op, x, [5, 0, 11], checks=(check,))


# -- the registry lists every streamable class --------------------------------------------------
# Abstract bases and mixins: never instantiated as such, their concrete subclasses are covered.
EXCLUDED = {
    Stream: "the base of every numpy stream (abstract config/step hooks)",
    wavedil.models.base.Model: "the base of TCN, WaveNet, Stack (stream() not implemented)",
    wavedil.models.base.ModelStream: "the base of TCNStream, WaveNetStream, StackStream",
    wavedil.wavelets.streams.BandedStream: "the base of AtrousStream and CWTStream",
    wavedil.nn.layers.Streaming: "the torch streaming mixin of CausalConv1d and nn models",
    wavedil.nn.models._Model: "the base of the torch TCN, WaveNet, Stack",
    wavedil.wavelets.streams.BandedStream: "the base of AtrousStream and the CWT streams",
}


def streamable_classes() -> set[type]:
    """Every class of every wavedil module that is a Stream or has ``stream``/``streaming``."""
    found = set()
    for info in pkgutil.walk_packages(wavedil.__path__, "wavedil."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not cls.__module__.startswith("wavedil") or getattr(cls, "_is_protocol", False):
                continue  # another package's class, or a typing Protocol (no instances)
            if issubclass(cls, Stream) or callable(getattr(cls, "stream", None)) \
                    or callable(getattr(cls, "streaming", None)):
                found.add(cls)
    return found


def covered_classes() -> set[type]:
    covered = set()
    for name, entry in ENTRIES.items():
        op = build(name)
        covered |= {type(op), type(op.stream())} | set(entry.covers)
    return covered


def test_registry_covers_every_streamable_class():
    found = streamable_classes()
    assert ConvStream in found and wavedil.nn.layers.CausalConv1d in found  # the walk works
    missing = sorted(f"{c.__module__}.{c.__qualname__}"
                     for c in found - covered_classes() - set(EXCLUDED))
    assert not missing, f"streamable classes with no entry in tests/registry.py: {missing}"
    stale = [c.__qualname__ for c in EXCLUDED if c not in found]
    assert not stale, f"EXCLUDED lists classes that are no longer streamable: {stale}"


@pytest.mark.parametrize("name", NAMES)
def test_a_deep_copy_mid_stream_continues_as_the_original(name):
    """``copy.deepcopy`` of a stream that has run: the copy and the original, fed the same
    rest, give the same output, and both equal the offline call."""
    import copy

    entry = ENTRIES[name]
    layout = layouts(entry)[0]
    x = make_input(entry, layout, 60, entry.dtypes[0], 3)
    op = build(name)
    stream = op.stream(batch=_stream_batch(layout))
    head = feed(stream, split(x[..., :25], [7]))
    twin = copy.deepcopy(stream)
    rest = [x[..., 25:40], x[..., 40:]]
    ours = finish(stream, head + feed(stream, rest, 25), 60)
    theirs = finish(twin, head + feed(twin, rest, 25), 60)
    np.testing.assert_array_equal(ours, theirs)
    assert_close(ours, op(x), entry.dtypes[0])
