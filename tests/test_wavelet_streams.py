"""Streams of the à trous transform: equal to the offline transform for any chunking."""

import io

import numpy as np
import pytest
from helpers import assert_close, chunk_sizes, signal, state_layout
from hypothesis import given, settings
from hypothesis import strategies as st

from wavedil.engine.history import DelayLine, History
from wavedil.engine.stream import feed_stream
from wavedil.receptive.field import receptive_field
from wavedil.wavelets.banks import filter_bank
from wavedil.wavelets.streams import AtrousStream, AtrousTransform, InverseAtrousStream
from wavedil.wavelets.transform import atrous, level_extent

WAVELETS = ["starlet", "linear", "haar", "db4", "sym8", "coif1"]
SIZES = chunk_sizes(400, most=8)


def feed(stream, x, sizes):
    """Chunks of ``x`` of the given sizes (cycled; a zero-size chunk in between), then flush."""
    return feed_stream(stream, x, sizes if any(sizes) else sizes + [1])


@settings(max_examples=60)
@given(name=st.sampled_from(WAVELETS), levels=st.integers(1, 6),
       alignment=st.sampled_from(["causal", "centered", "pywt"]),
       boundary=st.sampled_from(["zero", "edge"]), norm=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]), length=st.integers(0, 700),
       layout=st.sampled_from(["1d", "2d", "3d"]), sizes=SIZES, seed=st.integers(0, 2**31 - 1))
def test_stream_equals_offline_for_any_chunking(name, levels, alignment, boundary, norm, dtype,
                                                length, layout, sizes, seed):
    shape = {"1d": (length,), "2d": (2, length), "3d": (3, 2, length)}[layout]
    channels = 1 if layout == "1d" else 2
    x = signal(seed, shape, dtype)
    stream = AtrousStream(name, levels, alignment, boundary, norm, channels=channels)
    y = feed(stream, x, sizes)
    offline = atrous(x.astype(np.float64), name, levels, alignment, boundary, norm).stack()
    assert y.dtype == dtype and y.shape == (levels + 1,) + shape
    assert_close(y, offline, dtype)


@pytest.mark.parametrize("name", WAVELETS)
@pytest.mark.parametrize("alignment", ["causal", "centered", "pywt"])
def test_latency_is_the_sum_of_the_right_extents(name, alignment):
    levels = 5
    stream = AtrousStream(name, levels, alignment)
    k = filter_bank(name).length
    if alignment == "causal":
        expected = 0
    elif alignment == "centered":
        expected = sum((k - 1) * 2 ** (j - 1) // 2 for j in range(1, levels + 1))
    else:
        expected = sum((k // 2) * 2 ** (j - 1) for j in range(1, levels + 1))
    assert stream.latency == expected
    assert stream.latency == sum(level_extent(name, j, alignment)[1] for j in range(1, 6))
    assert receptive_field(stream).right == stream.latency
    assert AtrousTransform(name, levels, alignment).latency == expected
    # process holds back exactly `latency` samples; flush returns them
    x = np.random.default_rng(0).standard_normal(300)
    assert stream.process(x).shape == (levels + 1, 300 - expected)
    assert stream.flush().shape == (levels + 1, expected)


def test_causal_outputs_do_not_depend_on_the_future():
    x = np.random.default_rng(1).standard_normal(500)
    full = AtrousStream("db4", 6).process(x)
    prefix = AtrousStream("db4", 6).process(x[:123])
    np.testing.assert_array_equal(full[:, :123], prefix)


def test_receptive_field_of_the_spec_matches_an_impulse_probe():
    levels, n = 4, 400
    for name, alignment in [("db4", "centered"), ("starlet", "causal"), ("haar", "pywt")]:
        rf = receptive_field(AtrousTransform(name, levels, alignment, "zero"))
        x = np.zeros(n)
        x[200] = 1
        y = AtrousTransform(name, levels, alignment, "zero")(x)
        touched = np.flatnonzero(np.any(np.abs(y) > 1e-300, axis=0))
        # output n reads inputs n - left .. n + right, so an impulse at 200 reaches these
        assert touched[0] == 200 - rf.right and touched[-1] == 200 + rf.left


@given(split=st.integers(0, 300), name=st.sampled_from(["starlet", "db4"]),
       alignment=st.sampled_from(["causal", "centered"]), boundary=st.sampled_from(["zero",
                                                                                  "edge"]))
@settings(max_examples=20)
def test_state_dict_round_trip_through_savez(split, name, alignment, boundary):
    x = np.random.default_rng(split).standard_normal((2, 1, 300))
    whole = AtrousStream(name, 4, alignment, boundary)
    expected = feed(whole, x, [300])
    first = AtrousStream(name, 4, alignment, boundary)
    head = first.process(x[..., :split])
    buffer = io.BytesIO()
    np.savez(buffer, **first.state_dict())
    buffer.seek(0)
    second = AtrousStream(name, 4, alignment, boundary)
    second.load_state_dict(dict(np.load(buffer)))
    tail = [second.process(x[..., split:]), second.flush()]
    np.testing.assert_array_equal(np.concatenate([head] + tail, axis=-1), expected)


def test_state_from_another_configuration_is_rejected():
    state = AtrousStream("db4", 3).state_dict()
    with pytest.raises(ValueError, match="levels: expected 4, got 3"):
        AtrousStream("db4", 4).load_state_dict(state)
    with pytest.raises(ValueError, match="another configuration"):
        AtrousStream("db2", 3).load_state_dict(state)


def test_a_rejected_chunk_leaves_the_state_untouched():
    x = np.random.default_rng(2).standard_normal(100)
    stream = AtrousStream("starlet", 3, "centered")
    head = stream.process(x[:40])
    with pytest.raises(ValueError, match="expected 1 input channels, got 2"):
        stream.process(np.ones((2, 5)))
    with pytest.raises(TypeError, match="float32"):
        stream.process(x[40:50].astype(np.float32))
    rest = [stream.process(x[40:]), stream.flush()]
    assert_close(np.concatenate([head] + rest, -1),
                 atrous(x, "starlet", 3, "centered", "zero").stack())


def test_reset_and_independent_streams():
    x = np.random.default_rng(3).standard_normal(64)
    a, b = AtrousStream("db2", 3, "centered"), AtrousStream("db2", 3, "centered")
    ya = a.process(x)
    b.process(-x)
    np.testing.assert_array_equal(a.process(x[:0]), b.process(x[:0]))
    a.reset()
    np.testing.assert_array_equal(a.process(x), ya)


def test_flush_of_an_unused_stream_and_bad_options():
    assert AtrousStream("haar", 3).flush().shape == (4, 0)
    with pytest.raises(ValueError, match="boundary must be one of .*'periodic'"):
        AtrousStream("haar", 3, boundary="periodic")
    with pytest.raises(ValueError, match="alignment must be one of"):
        AtrousStream("haar", 3, alignment="late")
    with pytest.raises(ValueError, match="levels must be an integer >= 1, got 0"):
        AtrousStream("haar", 0)


def test_chunk_size_one_works_for_deep_levels():
    x = np.random.default_rng(4).standard_normal(300)
    stream = AtrousStream("db4", 10, "centered", "edge")
    y = np.concatenate([stream.process(x[i : i + 1]) for i in range(300)] + [stream.flush()], -1)
    assert_close(y, atrous(x, "db4", 10, "centered", "edge").stack())


# -- the inverse stream -------------------------------------------------------------------------

@given(name=st.sampled_from(["starlet", "linear"]), levels=st.integers(1, 6), norm=st.booleans(),
       alignment=st.sampled_from(["causal", "centered"]), boundary=st.sampled_from(["zero",
                                                                                   "edge"]),
       layout=st.sampled_from(["1d", "2d", "3d"]), dtype=st.sampled_from([np.float32,
                                                                          np.float64]),
       sizes=SIZES, seed=st.integers(0, 2**31 - 1))
def test_inverse_stream_reconstructs_the_forward_stream(name, levels, norm, alignment, boundary,
                                                        layout, dtype, sizes, seed):
    shape = {"1d": (150,), "2d": (2, 150), "3d": (2, 2, 150)}[layout]
    channels = 1 if layout == "1d" else 2
    x = signal(seed, shape, dtype)
    coefficients = atrous(x, name, levels, alignment, boundary, norm).stack()
    inverse = InverseAtrousStream(name, levels, norm, channels=channels)
    assert inverse.latency == 0
    y = feed(inverse, coefficients, sizes)
    assert y.dtype == dtype and y.shape == shape
    assert_close(y, x, dtype)


def test_inverse_stream_refuses_banks_without_reconstruction_and_bad_shapes():
    """(SWT banks invert with the synthesis's latency: tests/test_resynthesis.py.)"""
    with pytest.raises(ValueError, match="not a perfect-reconstruction bank"):
        InverseAtrousStream(([1.0, 1.0], [1.0, 2.0]), 3)
    assert InverseAtrousStream("db4", 3).latency == 7 * 7
    inverse = InverseAtrousStream("starlet", 3)
    with pytest.raises(ValueError, match=r"expected coefficients of shape \(4, "):
        inverse.process(np.ones((3, 10)))


@pytest.mark.parametrize("alignment,boundary", [("centered", "edge"), ("causal", "zero"),
                                                ("pywt", "edge")])
def test_the_spec_gives_dask_the_halo_it_needs(alignment, boundary):
    import dask.array as da

    from wavedil.dask import apply

    x = np.random.default_rng(6).standard_normal((2, 3000))
    op = AtrousTransform("db4", 5, alignment, boundary)
    y = apply(op, da.from_array(x, chunks=(2, 700))).compute()
    np.testing.assert_allclose(y, op(x), rtol=0, atol=1e-12)


def test_chunks_longer_than_a_kernel_piece_and_a_latency_longer_than_it():
    # 12 centered db4 levels: latency 14332 samples, more than the 4096-sample pieces
    x = np.random.default_rng(7).standard_normal((2, 30000))
    stream = AtrousStream("db4", 12, "centered", "edge", channels=2)
    assert stream.latency > 4096
    y = feed(stream, x, [9000, 1, 13001, 0, 4096])
    assert_close(y, atrous(x, "db4", 12, "centered", "edge").stack())


@pytest.mark.parametrize("name,alignment", [("db4", "pywt"), ("starlet", "centered")])
@pytest.mark.slow
def test_a_state_saved_in_another_process_continues_bit_for_bit(tmp_path, name, alignment):
    import subprocess
    import sys

    x = np.random.default_rng(8).standard_normal((2, 3, 700)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code = (f"import numpy as np; from wavedil.wavelets.streams import AtrousStream; "
            f"x = np.load({str(tmp_path / 'x.npy')!r}); "
            f"s = AtrousStream({name!r}, 5, {alignment!r}, 'edge', channels=3); "
            f"np.save({str(tmp_path / 'head.npy')!r}, s.process(x[..., :333])); "
            f"np.savez({str(tmp_path / 'state.npz')!r}, **s.state_dict())")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    stream = AtrousStream(name, 5, alignment, "edge", channels=3)
    stream.load_state_dict(dict(np.load(tmp_path / "state.npz")))
    y = np.concatenate([np.load(tmp_path / "head.npy"), stream.process(x[..., 333:]),
                        stream.flush()], axis=-1)
    whole = AtrousStream(name, 5, alignment, "edge", channels=3)
    np.testing.assert_array_equal(y, feed(whole, x, [700]))


def test_a_state_with_a_bad_history_is_refused():
    stream = AtrousStream("db4", 3, "centered")
    stream.process(np.ones(50))
    state = stream.state_dict()
    state["level2.history"] = np.ones((1, 1, 99))
    with pytest.raises(ValueError, match=r"'level2.history' must be float64 of shape "
                                         r"\(1, 1, <= 14\), got float64 \(1, 1, 99\)"):
        AtrousStream("db4", 3, "centered").load_state_dict(state)


@given(name=st.sampled_from(WAVELETS), alignment=st.sampled_from(["causal", "centered", "pywt"]),
       boundary=st.sampled_from(["zero", "edge"]), dtype=st.sampled_from([np.float32,
                                                                        np.float64]),
       sizes=SIZES, seed=st.integers(0, 2**31 - 1))
@settings(max_examples=20)
def test_stream_is_bitwise_the_offline_transform(name, alignment, boundary, dtype, sizes, seed):
    x = signal(seed, (2, 500), dtype)
    y = feed(AtrousStream(name, 5, alignment, boundary, channels=2), x, sizes)
    np.testing.assert_array_equal(y, atrous(x, name, 5, alignment, boundary).stack())


def test_a_state_without_its_sample_count_is_refused():
    stream = AtrousStream("haar", 2)
    stream.process(np.ones(10))
    state = stream.state_dict()
    del state["count"]
    with pytest.raises(ValueError, match=r"state is missing \['count'\]: 'count' \(an integer "
                                         r"of shape \(\)\)"):
        AtrousStream("haar", 2).load_state_dict(state)


def test_a_rejected_state_leaves_the_stream_as_it_was():
    """A state whose second level is broken is refused after its first level was read."""
    rng = np.random.default_rng(21)
    x = rng.standard_normal(900)
    stream, twin = AtrousStream("db2", 3), AtrousStream("db2", 3)
    np.testing.assert_array_equal(stream.process(x[:400]), twin.process(x[:400]))
    state = twin.state_dict()
    state["level2.history"] = state["level2.history"][..., :0].astype(np.float32)
    with pytest.raises(ValueError, match="state 'level2.history' must be float64"):
        stream.load_state_dict(state)
    np.testing.assert_array_equal(stream.process(x[400:]), twin.process(x[400:]))
    np.testing.assert_array_equal(stream.flush(), twin.flush())


def test_the_state_keys_and_shapes_stay_those_of_saved_states():
    """Written down from the version before the typed state: saved states must still load."""
    x = np.random.default_rng(0).standard_normal((2, 3, 700)).astype(np.float32)
    f4 = "<f4"
    assert state_layout(AtrousStream("db2", 3, "centered", channels=3), x) == {
        "count": ((), "<i8"), "level1.history": ((2, 3, 3), f4),
        "level2.history": ((2, 3, 6), f4), "level3.history": ((2, 3, 12), f4),
        "out1.pending": ((2, 3, 9), f4), "out2.pending": ((2, 3, 6), f4)}


@pytest.mark.parametrize("name,alignment,boundary", [("starlet", "causal", "zero"),
                                                      ("db2", "centered", "edge"),
                                                      ("haar", "pywt", "zero")])
def test_the_compiled_levels_keep_what_a_history_and_a_delay_line_would(name, alignment,
                                                                        boundary):
    """After any chunks, level j's saved history is what a ``History`` fed level j's input
    (its left boundary, then c_{j-1} as far as it is known) holds, and its pending outputs
    what a ``DelayLine`` fed w_j holds: the compiled kernel keeps their layout."""
    levels, x = 4, np.random.default_rng(9).standard_normal((2, 1, 400))
    stream = AtrousStream(name, levels, alignment, boundary)
    for chunk in np.split(x, [1, 2, 37, 38, 250], axis=-1):
        stream.process(chunk)
    state = stream.state_dict()
    extents = [level_extent(name, j, alignment) for j in range(1, levels + 1)]
    delays = np.cumsum([0] + [right for _, right in extents])  # R_0 = 0, R_1, ..., R_J
    for j, (left, right) in enumerate(extents, start=1):
        level_input = x if j == 1 else atrous(x, name, j - 1, alignment, boundary).approx
        known = 400 - delays[j - 1]  # c_{j-1} up to here has come out of level j-1
        first = level_input[..., :1] if boundary == "edge" else np.zeros((2, 1, 1))
        fill = np.repeat(first, left, -1)
        history = History((2, 1), left + right, np.float64)
        history.append(np.concatenate([fill, level_input[..., :known]], -1))
        np.testing.assert_array_equal(state[f"level{j}.history"], history.recent())
        wait = delays[levels] - delays[j]
        if wait:
            line = DelayLine((2, 1), wait, np.float64)
            details = atrous(x, name, j, alignment, boundary).details[j - 1]
            line.push(details[..., : 400 - delays[j]])
            np.testing.assert_array_equal(state[f"out{j}.pending"], line.recent())


def test_reprs_show_the_configuration_and_the_latency():
    assert repr(AtrousStream("db2", 3, "centered")) == (
        "AtrousStream('db2', levels=3, alignment='centered', boundary='zero', norm=False, "
        "channels=1, latency=10)")
    assert repr(AtrousTransform("starlet", 4)) == (
        "AtrousTransform('starlet', levels=4, alignment='causal', boundary='zero', norm=False, "
        "channels=1, latency=0)")
    assert repr(InverseAtrousStream("starlet", 3, channels=2)) == (
        "InverseAtrousStream('starlet', levels=3, norm=False, channels=2, latency=0)")
