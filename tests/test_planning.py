"""The dilation planner: gap-free, reaches the target, and no schedule with fewer layers
exists (checked by exhaustive search with an independent set-based reach computation);
the closed-form gap check it relies on; durations printed in ms or s."""

import itertools
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wavedil.engine.spec import Chain, LayerSpec
from wavedil.receptive.field import (
    format_duration,
    proved_gap_free,
    receptive_field,
    specs_from_schedule,
)
from wavedil.receptive.planning import plan_dilations


def reached(dilations, kernel_size, convs_per_block):
    """All lags a chain of blocks reaches, by brute force over the taps (Python sets)."""
    lags = {0}
    for d in dilations:
        for _ in range(convs_per_block):
            lags = {a + t * d for a in lags for t in range(kernel_size)}
    return lags


def gap_free_size(dilations, kernel_size, convs_per_block):
    lags = reached(dilations, kernel_size, convs_per_block)
    top = max(lags)
    return top + 1 if len(lags) == top + 1 else None


def fewest_blocks_by_search(target, kernel_size, convs_per_block, max_blocks=3):
    """Exhaustive: the smallest number of blocks of any gap-free schedule reaching target.

    A gap-free schedule reads lag 1, so its smallest dilation is 1; n blocks reach at most
    taps**n lags, so no useful dilation exceeds taps**(n-1).
    """
    taps = convs_per_block * (kernel_size - 1) + 1
    for n in range(1, max_blocks + 1):
        for rest in itertools.combinations_with_replacement(range(1, taps ** (n - 1) + 1),
                                                            n - 1):
            size = gap_free_size((1,) + rest, kernel_size, convs_per_block)
            if size is not None and size >= target:
                return n
    raise AssertionError("test set-up: target needs more blocks than searched")


@settings(max_examples=25)
@given(data=st.data(), kernel=st.integers(2, 4), convs=st.integers(1, 2))
def test_fewest_layers_and_gap_free(data, kernel, convs):
    taps = convs * (kernel - 1) + 1
    target = data.draw(st.integers(2, taps**3), label="target")
    plan = plan_dilations(samples=target, kernel_size=kernel, convs_per_block=convs)
    assert plan.best.layers == convs * fewest_blocks_by_search(target, kernel, convs)
    for c in plan:
        size = gap_free_size(c.dilations, kernel, convs)
        assert size is not None, f"{c.dilations} has gaps"
        assert size == c.receptive_field >= target
        assert c.layers == convs * len(c.dilations)
        assert c.latency == 0
    layers = [c.layers for c in plan]
    assert layers == sorted(layers)


def test_wavenet_and_keras_examples():
    plan = plan_dilations(samples=1024, kernel_size=2)
    assert plan.best.dilations == tuple(2**i for i in range(10))
    assert plan.best.receptive_field == 1024
    plan = plan_dilations(seconds=0.5, sample_rate=16000, kernel_size=3)
    assert plan.target == 8000
    assert plan.best.layers == 9  # 3**8 = 6561 < 8000 <= 3**9
    assert plan.best.receptive_field == min(c.receptive_field for c in plan if c.layers == 9)
    assert plan.best.seconds == pytest.approx(plan.best.receptive_field / 16000)
    keras = plan_dilations(samples=509, kernel_size=3, convs_per_block=2)
    assert keras.best.layers == 8  # 5**3 = 125 < 509 <= 625 = 5**4 blocks of 2 convs


def test_costs_and_latency():
    plan = plan_dilations(samples=100, kernel_size=3, channels=16, alignment="centered")
    c = plan.best
    assert c.params == c.layers * (16 * 16 * 3 + 16)
    assert c.macs_per_sample == c.layers * 16 * 16 * 3
    assert c.latency == sum(d for d in c.dilations)  # centered: floor(2 d / 2) per layer


def test_max_dilation_forces_stacks():
    plan = plan_dilations(samples=2000, kernel_size=2, max_dilation=64)
    assert all(max(c.dilations) <= 64 for c in plan)
    assert plan.best.receptive_field >= 2000
    assert "stacks" in plan.best.family


def test_table():
    text = str(plan_dilations(seconds=0.25, sample_rate=16000, kernel_size=3))
    assert "target: 4000 samples (250 ms at 16000 Hz)" in text
    assert "powers of 3" in text and "MACs/sample" in text


def test_bad_input():
    with pytest.raises(ValueError, match="not both and not neither"):
        plan_dilations()
    with pytest.raises(ValueError, match="needs a sample_rate"):
        plan_dilations(seconds=0.5)
    with pytest.raises(ValueError, match="seconds must be a positive number, got -1"):
        plan_dilations(seconds=-1, sample_rate=16000)
    with pytest.raises(ValueError, match="expected a kernel_size >= 2, got 1"):
        plan_dilations(samples=100, kernel_size=1)
    with pytest.raises(ValueError, match="kernel_size must be an integer >= 1, got 0"):
        plan_dilations(samples=100, kernel_size=0)
    with pytest.raises(ValueError, match="needs at least 10 layers"):
        plan_dilations(samples=1024, kernel_size=2, max_layers=5)


def test_stack_constructors_take_the_plan():
    from wavedil.models.stack import TCN, WaveNet
    from wavedil.receptive.field import receptive_field

    best = plan_dilations(samples=400, kernel_size=3, convs_per_block=2).best
    tcn = TCN(1, 4, kernel_size=3, dilations=best.dilations)
    assert receptive_field(tcn).size == best.receptive_field >= 400
    best = plan_dilations(samples=1000, kernel_size=2).best
    wavenet = WaveNet(1, residual_channels=4, dilations=best.dilations)
    input_span = wavenet.config["input_kernel_size"] - 1  # WaveNet's causal input conv
    assert receptive_field(wavenet).size == best.receptive_field + input_span


def reached_bitmap(dilations, kernel_size, convs_per_block):
    """The reached lags as a boolean array (numpy shifts; the brute force for large
    targets, where Python sets would be slow)."""
    size = (kernel_size - 1) * convs_per_block * sum(dilations) + 1
    lags = np.zeros(size, dtype=bool)
    lags[0] = True
    top = 0
    for d in dilations:
        for _ in range(convs_per_block):
            previous = lags[: top + 1].copy()
            for t in range(1, kernel_size):
                lags[t * d : t * d + top + 1] |= previous
            top += (kernel_size - 1) * d
    return lags


@settings(max_examples=25)
@given(target=st.integers(2, 3000), kernel=st.integers(2, 5), convs=st.integers(1, 2),
       cap=st.one_of(st.none(), st.integers(1, 64)),
       alignment=st.sampled_from(["causal", "centered"]))
def test_any_plan_is_gap_free_and_reaches_the_target(target, kernel, convs, cap, alignment):
    try:
        plan = plan_dilations(samples=target, kernel_size=kernel, convs_per_block=convs,
                              max_dilation=cap, alignment=alignment)
    except ValueError as error:  # only when the cap leaves no schedule within 128 layers
        assert cap is not None and "no gap-free schedule" in str(error)
        return
    assert len(plan) > 0
    for c in plan:
        assert gap_free_size(c.dilations, kernel, convs) == c.receptive_field >= target
        assert cap is None or max(c.dilations) <= cap
        assert c.layers == convs * len(c.dilations) <= 128


def test_ten_seconds_at_48_khz():
    """The issue's case (480000 samples; the lag sets would hold ~500000 lags each)."""
    plan = plan_dilations(seconds=10, sample_rate=48000, kernel_size=3)
    assert plan.target == 480000 and len(plan) == 8
    assert plan.best.layers == 12  # 3**11 = 177147 < 480000 <= 3**12
    for c in plan:
        lags = reached_bitmap(c.dilations, 3, 1)
        assert lags.all() and lags.size == c.receptive_field >= 480000
    text = str(plan)
    assert "target: 480000 samples (10 s at 48000 Hz)" in text
    assert "480001 (10 s)" in text and "e+" not in text
    million = plan_dilations(samples=10**6, kernel_size=3)
    assert reached_bitmap(million.best.dilations, 3, 1).size == million.best.receptive_field


@settings(max_examples=60)
@given(dilations=st.lists(st.integers(1, 40), min_size=1, max_size=6),
       kernels=st.lists(st.integers(1, 4), min_size=6, max_size=6))
def test_closed_form_gap_check_matches_the_lag_set(dilations, kernels):
    """``proved_gap_free`` (any order, mixed kernels) against the brute-force lag set."""
    layers = [LayerSpec(k, d) for k, d in zip(kernels, dilations)]
    lags = {0}
    for layer in layers:
        lags = {a + t * layer.dilation for a in lags for t in range(layer.kernel_size)}
    brute = len(lags) == max(lags) + 1
    assert proved_gap_free(Chain(tuple(layers))) == brute
    assert (receptive_field(layers).gaps == ()) == brute


def test_closed_form_gap_check_declines_what_it_cannot_prove():
    residual = specs_from_schedule(2, [1, 2, 4], residual=True)
    assert not proved_gap_free(residual) and receptive_field(residual).gaps == ()
    strided = Chain((LayerSpec(2, 1, stride=2), LayerSpec(2, 1)))
    assert not proved_gap_free(strided)


@pytest.mark.parametrize("seconds, text", [
    (10.0, "10 s"), (11.0735, "11.07 s"), (1.0, "1 s"), (0.99999, "1 s"), (0.5, "500 ms"),
    (0.03181, "31.81 ms"), (0.0000625, "0.0625 ms"), (0.0, "0 ms"), (36000.0, "36000 s"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@given(seconds=st.floats(1e-6, 1e6))
def test_format_duration_round_trips(seconds):
    value, unit = re.fullmatch(r"([0-9.]+) (ms|s)", format_duration(seconds)).groups()
    back = float(value) * (1e-3 if unit == "ms" else 1.0)
    assert back == pytest.approx(seconds, rel=6e-4)
    assert (unit == "s") == (back >= 1)
