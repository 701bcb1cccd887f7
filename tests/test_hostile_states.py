"""Hostile stream states, for every stream kind of the registry (tests/registry.py): a state
is loaded as it is or refused with a ValueError/TypeError naming the key, and a refused
state leaves the stream exactly as it was (strategies and oracles: tests/hostile.py)."""

import io
import json

import numpy as np
import pytest
from contract import split
from hostile import (
    Case,
    check_refusal,
    read_as_given,
    record,
    same_state,
    state_cases,
    tally_line,
)
from hypothesis import given, settings
from registry import ENTRIES, build, layouts, make_input

import wavedil
from wavedil.engine.conv import ConvStream
from wavedil.engine.stream import Layout, Stream

NAMES = sorted(ENTRIES)
SIZES = [7, 1, 0, 13, 31]


def feed(stream, chunks):
    """``process`` every chunk: the outputs as numpy arrays."""
    return [np.asarray(stream.process(chunk)) for chunk in chunks]


def roundtrip(state):
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as loaded:
        return {key: loaded[key] for key in loaded.files}


def inner(stream) -> Stream:
    """The package's stream behind registry adapters (``inner``, ``stream``)."""
    while not isinstance(stream, Stream):
        stream = getattr(stream, "inner", None) or stream.stream
    return stream


def setting(name):
    """(layout, dtype, batch) to test entry ``name`` in: batched where it can be."""
    entry = ENTRIES[name]
    layout = "batch" if "batch" in entry.layouts else layouts(entry)[-1]
    dtype = np.float32 if np.float32 in entry.dtypes else entry.dtypes[0]
    return layout, dtype, 2 if layout == "batch" else None


class Scene:
    """An entry's streams at two points of one signal: ``state`` (the source of hostile
    states) and ``before`` (where the target stands when a hostile state comes)."""

    def __init__(self, name, length=150):
        layout, dtype, self.batch = setting(name)
        self.op = build(name)
        x = make_input(ENTRIES[name], layout, length, dtype, 1)
        self.chunks = split(x, SIZES)
        self.dtype = dtype
        half = len(self.chunks) // 2
        source = self.op.stream(batch=self.batch)
        feed(source, self.chunks[:half])
        self.state = roundtrip(source.state_dict())
        self.target = self.op.stream(batch=self.batch)
        feed(self.target, self.chunks[:3])
        self.before = roundtrip(self.target.state_dict())
        clean = self.op.stream(batch=self.batch)
        clean.load_state_dict(self.before)
        self.rest = feed(clean, self.chunks[3:9])  # the continuation compared
        stream = inner(self.target)
        self.spec = stream.full_state_spec(Layout(*_layout(self.state)))

    def restore(self):
        self.target.load_state_dict(self.before)

    def untouched(self, label):
        """The target is where it was: same state, and it continues bit for bit."""
        assert same_state(roundtrip(self.target.state_dict()), self.before), label
        for y, want in zip(feed(self.target, self.chunks[3:9]), self.rest):
            np.testing.assert_array_equal(y, want, err_msg=label)
        self.restore()


def _layout(state):
    ndim, batch, dtype = json.loads(str(state["meta"]))["layout"]
    return ndim, batch, np.dtype(dtype)


def _without_free(state):
    return {k: v for k, v in state.items() if not k.startswith("fn.")}


@pytest.mark.parametrize("name", NAMES)
def test_hostile_states(name):
    scene = Scene(name)
    spec = scene.spec

    @settings(max_examples=3 * settings.default.max_examples)
    @given(case=state_cases(scene.state, spec))
    def check(case: Case):
        scene.restore()  # (a failed example may have left it anywhere)
        hostile = case.make(dict(scene.state))
        try:
            scene.target.load_state_dict(hostile)
        except Exception as error:  # judged by check_refusal: ValueError/TypeError naming it
            check_refusal(error, case)
            record("states", "refused")
            scene.untouched(case.label)
            return
        assert not case.refuse, f"{case.label}: accepted"
        record("states", "accepted")
        loaded = roundtrip(scene.target.state_dict())
        assert read_as_given(_without_free(loaded), _without_free(hostile)), case.label
        if not json.loads(str(hostile["meta"]))["flushed"]:
            for y in feed(scene.target, scene.chunks[-2:]):
                assert np.all(np.isfinite(y)), case.label

    check()


def _owner(stream: Stream, key: str) -> tuple[Stream, str, bool]:
    """The stream that owns ``key`` of a state, its own key, and whether it is the top."""
    top = stream
    while "." in key:
        head, rest = key.split(".", 1)
        children = stream.children()
        if head not in children:
            break
        stream, key = children[head], rest
    return stream, key, stream is top


@pytest.mark.parametrize("name", NAMES)
def test_any_cut_or_dropped_array_of_a_running_stream_is_refused(name):
    """Once a stream has seen more than its memory, every array it saves has a known
    length: one sample less, or the array left out, is refused (except what is ambiguous
    by nature: a non-causal conv's history length is its own record of the samples it saw,
    a stream-like ``fn``'s state is its own, a state of one array may be a stream that saw
    nothing, and ``signal_ndim`` only shapes the output)."""
    scene = Scene(name, length=700)
    stream = inner(scene.target)
    keys = [k for k in scene.state if k != "meta" and not k.startswith("fn.")]
    assert keys or name.startswith("InverseAtrousStream-starlet")
    for key in keys:
        owner, own, top = _owner(stream, key)
        value = scene.state[key]
        ambiguous_length = (isinstance(owner, ConvStream) and owner.layer.left < owner.layer.span
                            ) or (len(keys) == 1 and owner.latency > 0)  # one lookahead conv
        if value.ndim and value.shape[-1] and not ambiguous_length:
            cut = dict(scene.state, **{key: value[..., 1:]})
            with pytest.raises(ValueError, match="state") as error:
                scene.target.load_state_dict(cut)
            assert any(k in str(error.value) for k in keys), str(error.value)
            record("states", "refused")
            scene.untouched(f"{key} cut")
        if len(keys) > 1 and own != "signal_ndim":
            dropped = {k: v for k, v in scene.state.items() if k != key}
            with pytest.raises(ValueError, match="state") as error:
                scene.target.load_state_dict(dropped)
            record("states", "refused")
            scene.untouched(f"{key} dropped")


@pytest.mark.parametrize("name", NAMES)
def test_a_state_without_a_layout_holds_nothing(name):
    layout, dtype, batch = setting(name)
    op = build(name)
    fresh = roundtrip(op.stream(batch=batch).state_dict())
    target = op.stream(batch=batch)
    x = make_input(ENTRIES[name], layout, 30, dtype, 2)
    feed(target, split(x, [11]))
    before = roundtrip(target.state_dict())
    target.load_state_dict(fresh)  # a fresh state loads
    assert same_state(roundtrip(target.state_dict()), fresh)
    target.load_state_dict(before)
    some = {"history": np.zeros((1, 1, 1))}
    with pytest.raises(ValueError, match="without a layout .* holds no arrays"):
        target.load_state_dict(dict(fresh, **some))
    assert same_state(roundtrip(target.state_dict()), before)
    record("states", "accepted")
    record("states", "refused")


# -- the issue's cases ---------------------------------------------------------------------------
def _tamper(stream, edit):
    state = roundtrip(stream.state_dict())
    edit(state)
    return state


def test_the_issue_cases_are_refused_with_the_key_named():
    x = np.random.default_rng(0).standard_normal(200)
    layer = wavedil.DilatedConv1d(np.ones((1, 1, 3)), dilation=4)
    source = layer.stream()
    source.process(x)
    target = layer.stream()
    target.process(x[:50])
    before = roundtrip(target.state_dict())
    cut = _tamper(source, lambda s: s.update(history=s["history"][..., :3]))
    with pytest.raises(ValueError, match=r"state 'history' must be float64 of shape "
                                         r"\(1, 1, 8\), got float64 \(1, 1, 3\)"):
        target.load_state_dict(cut)
    assert same_state(roundtrip(target.state_dict()), before)

    tcn = wavedil.TCN(2, [4, 3], kernel_size=3, dilations=[1, 4], out_channels=1)
    stream = tcn.stream()
    stream.process(np.ones((2, 40)))
    missing = _tamper(stream, lambda s: s.pop("blocks.1.conv2.history"))
    with pytest.raises(ValueError, match=r"but not \['blocks.1.conv2.history'\]"):
        tcn.stream().load_state_dict(missing)
    unknown = _tamper(stream, lambda s: s.update(extra=np.zeros(3)))
    with pytest.raises(ValueError, match=r"unexpected key\(s\) \['extra'\]"):
        tcn.stream().load_state_dict(unknown)

    def flushed_no(state):
        meta = json.loads(str(state["meta"]))
        state["meta"] = np.array(json.dumps(dict(meta, flushed="no")))

    with pytest.raises(ValueError, match="meta 'flushed' must be true or false, got 'no'"):
        tcn.stream().load_state_dict(_tamper(stream, flushed_no))

    denoiser = wavedil.DenoiseStream("starlet", 3, window=64, hop=16)
    denoiser.process(x)

    def nan_threshold(state):
        state["thresholds.lambdas"] = state["thresholds.lambdas"].copy()
        state["thresholds.lambdas"][0, 1, 0] = np.nan

    with pytest.raises(ValueError, match=r"'thresholds.lambdas' must be finite, got 1 "
                                         r"non-finite value\(s\) of 3"):
        wavedil.DenoiseStream("starlet", 3, window=64, hop=16).load_state_dict(
            _tamper(denoiser, nan_threshold))
    for _ in range(5):
        record("states", "refused")


def test_json_types_of_the_config_count():
    """``"norm": 1`` is not ``"norm": true``: a config is compared as JSON."""
    stream = wavedil.AtrousStream("db2", 2, norm=True)
    stream.process(np.ones(10))
    state = roundtrip(stream.state_dict())
    meta = json.loads(str(state["meta"]))
    meta["config"]["norm"] = 1
    with pytest.raises(ValueError, match="norm: expected True, got 1"):
        wavedil.AtrousStream("db2", 2, norm=True).load_state_dict(
            dict(state, meta=np.array(json.dumps(meta))))
    record("states", "refused")


def test_torch_block_state_is_checked_too():
    torch = pytest.importorskip("torch")
    from wavedil.nn import TCN

    model = TCN(1, [3], kernel_size=3).double().eval()
    with model.streaming(1):
        model(torch.randn(1, 1, 20, dtype=torch.float64))
        state = model.stream_state()
        poisoned = {k: v.clone() for k, v in state.items()}
        key = next(iter(poisoned))
        poisoned[key][0, 0, 0] = float("nan")
        with pytest.raises(ValueError, match=f"'{key}' must be finite"):
            model.load_stream_state(poisoned)
        np.testing.assert_array_equal(model.stream_state()[key].numpy(), state[key].numpy())
    record("states", "refused")


def test_tally(capsys):
    """(prints what this module tried: run last in the module)"""
    with capsys.disabled():
        print("\n" + tally_line())
