"""A stream's chunk checks: a chunk like one the layout already took as it was skips the
checks (the hot loop of short chunks), and every other chunk still gets them all.

The oracle is the stream's own first-chunk path: whatever it refuses, the fast path
refuses with the same message; whatever it takes, the output equals the offline call.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
from wavedil.engine.finite import check_signal, in_task, policy


def tcn():
    return wavedil.TCN(2, [3, 3], kernel_size=3, seed=0)


@pytest.mark.parametrize("shape", [(2, 7), (1, 2, 7)])
def test_every_later_chunk_of_another_kind_is_still_refused(shape):
    stream = tcn().stream()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    stream.process(x)
    stream.process(x)  # the fast path from here on
    with pytest.raises(TypeError, match="carries float32, got a chunk of float64"):
        stream.process(x.astype(np.float64))
    with pytest.raises(TypeError, match=r"got dtype >f4"):
        stream.process(x.astype(">f4"))
    with pytest.raises(ValueError, match="expected 2 input channels, got 3"):
        stream.process(np.zeros(shape[:-2] + (3, 7), np.float32))
    with pytest.raises(ValueError, match="carries .*-D chunks"):
        stream.process(x[None] if len(shape) == 2 else x[0])
    with pytest.raises(ValueError, match=r"chunk\[.*\] is nan"):
        stream.process(np.where(np.arange(7) == 4, np.nan, x).astype(np.float32))
    assert stream.process(x[..., :0]).shape == shape[:-1][:-1] + (3, 0)
    stream.flush()
    with pytest.raises(ValueError, match="was flushed"):
        stream.process(x)


def test_a_loaded_state_of_another_dtype_fixes_the_layout_again():
    model = tcn()
    x = np.random.default_rng(1).standard_normal((2, 9))
    saved = model.stream()
    saved.process(x)
    state = saved.state_dict()  # float64
    stream = model.stream()
    for _ in range(2):
        stream.process(x.astype(np.float32))  # float32, on the fast path
    stream.load_state_dict(state)
    with pytest.raises(TypeError, match="carries float64, got a chunk of float32"):
        stream.process(x.astype(np.float32))
    np.testing.assert_allclose(np.concatenate([saved.process(x), saved.flush()], -1),
                               np.concatenate([stream.process(x), stream.flush()], -1))


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 20), min_size=1, max_size=12),
       dtype=st.sampled_from([np.float32, np.float64]), batched=st.booleans())
def test_any_chunking_on_the_fast_path_equals_the_offline_call(sizes, dtype, batched):
    model = tcn()
    x = np.random.default_rng(len(sizes)).standard_normal((1, 2, sum(sizes))).astype(dtype)
    x = x if batched else x[0]
    stream = model.stream()
    cuts = np.cumsum([0] + sizes)
    out = [stream.process(x[..., a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
    y = np.concatenate(out + [stream.flush()], axis=-1)
    np.testing.assert_allclose(y, model(x), rtol=0, atol=1e-5 if dtype == np.float32 else 1e-12)


@settings(max_examples=200, deadline=None)
@given(dtype=st.sampled_from([np.float16, np.float32, np.float64, np.complex64]),
       size=st.one_of(st.integers(0, 300), st.integers(4000, 5000)), seed=st.integers(0, 2**32 - 1),
       spoil=st.sampled_from([None, np.nan, np.inf, -np.inf, "huge"]), data=st.data())
def test_check_signal_refuses_exactly_the_non_finite_arrays(dtype, size, seed, spoil, data):
    x = np.random.default_rng(seed).standard_normal(size).astype(dtype)
    if size and spoil is not None:
        at = data.draw(st.integers(0, size - 1))
        x[at] = np.finfo(dtype).max if spoil == "huge" else spoil  # huge: squares overflow
    strided = data.draw(st.booleans())
    x = np.repeat(x, 2)[::2] if strided else x
    if np.isfinite(x).all():
        check_signal(x, "x")
    else:
        with pytest.raises(ValueError, match=r"^x\[\d+\] is \(?(nan|inf|-inf)"):
            check_signal(x, "x")


def test_a_task_policy_holds_in_its_thread_only():
    import threading

    seen = {}
    with in_task("confine"):
        seen["task"] = policy()
        other = threading.Thread(target=lambda: seen.update(other=policy()))
        other.start()
        other.join()
    seen["after"] = policy()
    assert seen == {"task": "confine", "other": "refuse", "after": "refuse"}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_tcn_hot_path_refuses_a_nan_and_confines_it_as_the_general_path(dtype, threads):
    """Short chunks of a TCN go straight to the compiled step (on one thread or two), which
    checks their samples: a NaN there is refused with the general path's message and
    leaves the stream as it was; under "confine" it goes through, and the output equals
    the offline call's."""
    model = wavedil.TCN(2, [4, 4], kernel_size=3, dilations=[1, 4], seed=3)
    x = np.random.default_rng(4).standard_normal((2, 60)).astype(dtype)
    stream = model.stream(threads=threads)
    head = [stream.process(x[:, i : i + 3]) for i in range(0, 30, 3)]
    bad = x[:, 30:33].copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"^chunk\[1, 2\] is nan"):
        stream.process(bad)
    tail = [stream.process(x[:, i : i + 3]) for i in range(30, 60, 3)]
    np.testing.assert_allclose(np.concatenate(head + tail, -1), model(x), rtol=0,
                               atol=1e-5 if dtype == np.float32 else 1e-12)
    spoiled = x.copy()
    spoiled[1, 32] = np.nan
    with wavedil.nonfinite("confine"):
        stream = model.stream(threads=threads)
        out = np.concatenate([stream.process(spoiled[:, i : i + 3]) for i in range(0, 60, 3)],
                             -1)
        offline = model(spoiled)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(offline))
    np.testing.assert_allclose(out, offline, rtol=0, equal_nan=True,
                               atol=1e-5 if dtype == np.float32 else 1e-12)
