"""Every public class has a short ``repr`` that names it and shows its configuration.

The public classes are those of ``wavedil.__all__``, of the subpackages' ``__all__`` and
the few public result classes the rooms return; each gets a small instance from
``FACTORIES``, and a public class without a factory fails the test.
"""

import importlib
import inspect
import re

import numpy as np
import pytest

import wavedil

PACKAGES = ["wavedil", "wavedil.engine", "wavedil.receptive", "wavedil.wavelets",
            "wavedil.models", "wavedil.nn"]
# public classes that are returned, not exported: found through their modules
EXTRA = {"wavedil.receptive.field": ["LayerRow"], "wavedil.receptive.probe": ["Probe"],
         "wavedil.receptive.torch_trace": ["TracedSpec"],
         "wavedil.io": ["FilterReport", "AtomicWriter"],
         "wavedil.models.tcn": ["TCNStream"], "wavedil.models.wavenet": ["WaveNetStream"],
         "wavedil.models.stack": ["StackStream"]}
STREAMS = "stream classes get their repr in the state-protocol change"
MAX_CHARS = 300


def _torch():
    return pytest.importorskip("torch")


def _tcn():
    return wavedil.TCN(1, 4, kernel_size=3, dilations=[1, 2], out_channels=1)


def _deep_tcn():  # long tables, supports and dilation lists
    return wavedil.TCN(1, 2, kernel_size=3, dilations=[2 ** i for i in range(10)])


def _stack():
    return wavedil.Stack([{"channels": 4, "kernel_size": 3, "dilation": 2},
                          {"channels": 1, "kernel_size": 1}], in_channels=1)


def _wavenet():
    return wavedil.WaveNet(1, 4, 8, 4, dilations=[1, 2])


def _layer_spec():
    return wavedil.LayerSpec(3, dilation=4, name="conv1")


def _writer(tmp_path):
    from wavedil.io import AtomicWriter
    return AtomicWriter(tmp_path / "out.wav", 16000, 1)


def _nn(name, *args, **kwargs):
    _torch()
    import wavedil.nn
    return getattr(wavedil.nn, name)(*args, **kwargs)


def _traced():
    torch = _torch()
    from wavedil.receptive.torch_trace import trace_spec
    return trace_spec(torch.nn.Conv1d(1, 1, 3, dilation=2), torch.zeros(1, 1, 64))


def _atrous_result():
    return wavedil.atrous(np.zeros(4096), "db4", 3)


# name (class name, then an optional note) -> (factory taking tmp_path, xfail reason or None)
FACTORIES = {
    "DilatedConv1d": (lambda p: wavedil.DilatedConv1d(np.ones((2, 1, 3)), dilation=2), None),
    "Stream": (lambda p: wavedil.DilatedConv1d(np.ones((2, 1, 3))).stream(), None),
    "ConvStream": (lambda p: wavedil.DilatedConv1d(np.ones((2, 1, 3))).stream(), None),
    "History": (lambda p: wavedil.engine.History((1, 2), 16, np.float64), None),
    "DelayLine": (lambda p: wavedil.engine.DelayLine((1, 2), 5, np.float64), None),
    "LayerSpec": (lambda p: _layer_spec(), None),
    "Shift": (lambda p: wavedil.engine.Shift(-2, name="pad"), None),
    "Chain": (lambda p: wavedil.Chain(tuple(_layer_spec() for _ in range(50))), None),
    "Branches": (lambda p: wavedil.Branches(tuple(_layer_spec() for _ in range(50))), None),
    "AtrousResult": (lambda p: _atrous_result(), None),
    "FilterBank": (lambda p: wavedil.filter_bank("db20"), None),
    "AtrousTransform": (lambda p: wavedil.AtrousTransform("db4", 3), None),
    "AtrousStream": (lambda p: wavedil.AtrousStream("db4", 3), None),
    "InverseAtrousStream": (lambda p: wavedil.InverseAtrousStream("starlet", 3), None),
    "Denoiser": (lambda p: wavedil.Denoiser("db4", 3), None),
    "DenoiseStream": (lambda p: wavedil.DenoiseStream("db4", 3), None),
    "Resynthesis": (lambda p: wavedil.Resynthesis("db4", 3, np.tanh), None),
    "ResynthesisStream": (lambda p: wavedil.ResynthesisStream("db4", 3, np.tanh), None),
    "CWT": (lambda p: wavedil.CWT(octaves=6, voices=12), None),
    "CWTStream": (lambda p: wavedil.CWTStream(octaves=6, voices=12), None),
    "DecimatedCWTStream": (lambda p: wavedil.DecimatedCWTStream(octaves=6, voices=12), None),
    "CWTResult": (lambda p: wavedil.cwt(np.zeros(4096), octaves=6), None),
    "ContinuousWavelet": (lambda p: wavedil.ContinuousWavelet.morse(), None),
    "TCN": (lambda p: _tcn(), None),
    "WaveNet": (lambda p: _wavenet(), None),
    "Stack": (lambda p: _stack(), None),
    "WaveNet (30 layers)": (lambda p: wavedil.WaveNet(1, 2, 4, 2, dilations=[2 ** i for i in
                                                                        range(10)] * 3), None),
    "TCNStream": (lambda p: _tcn().stream(), None),
    "WaveNetStream": (lambda p: _wavenet().stream(), None),
    "StackStream": (lambda p: _stack().stream(), None),
    "NAM": (lambda p: wavedil.NAM([{"channels": 4, "dilations": [1, 2, 4]}]), None),
    "ReceptiveField": (lambda p: wavedil.receptive_field(_deep_tcn(), sample_rate=16000), None),
    "LayerRow": (lambda p: wavedil.receptive_field(_tcn()).layers[0], None),
    "Plan": (lambda p: wavedil.plan_dilations(samples=1 << 16, kernel_size=2), None),
    "Candidate": (lambda p: wavedil.plan_dilations(samples=1 << 16, kernel_size=2).best, None),
    "Probe": (lambda p: wavedil.probe_receptive_field(_deep_tcn(), 8192), None),
    "EffectiveReceptiveField": (lambda p: wavedil.effective_receptive_field(
        _nn("TCN", 1, 4, dilations=[1, 2, 4, 8, 16, 32]), 512), None),
    "TracedSpec": (lambda p: _traced(), None),
    "FilterReport": (lambda p: importlib.import_module("wavedil.io").FilterReport(
        48000, 16000, 1, 0, 12), None),
    "AtomicWriter": (_writer, None),
    "nn.TCN": (lambda p: _nn("TCN", 1, 2, dilations=[2 ** i for i in range(12)]), None),
    "nn.WaveNet": (lambda p: _nn("WaveNet", 1, 2, 4, 2, dilations=[2 ** i for i in range(10)],
                                 stacks=3), None),
    "nn.Stack": (lambda p: _nn("Stack", [{"channels": 2, "kernel_size": 3, "dilation": 2}] * 12,
                               in_channels=1), None),
    "nn.TemporalBlock": (lambda p: _nn("TemporalBlock", 4, 4, 3, 2), None),
    "nn.WaveNetLayer": (lambda p: _nn("WaveNetLayer", 4, 8, 4, 2, 2, 0, 0, False), None),
    "nn.CausalConv1d": (lambda p: _nn("CausalConv1d", 2, 2, 3, dilation=4), None),
    "nn.AlignedConv1d": (lambda p: _nn("AlignedConv1d", 2, 2, 3, dilation=4,
                                       alignment="centered"), None),
    "nn.Streaming": (lambda p: _nn("TCN", 1, 4, dilations=[1, 2]), None),  # a mixin
}


def public_classes() -> dict[str, type]:
    found = {}
    for package in PACKAGES:
        if package == "wavedil.nn" and importlib.util.find_spec("torch") is None:
            continue
        module = importlib.import_module(package)
        prefix = "nn." if package == "wavedil.nn" else ""
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                found[prefix + name] = obj
    for module, names in EXTRA.items():
        for name in names:
            found[name] = getattr(importlib.import_module(module), name)
    return found


def test_every_public_class_has_a_factory():
    missing = sorted(set(public_classes()) - set(FACTORIES))
    assert missing == [], f"public classes without a factory in FACTORIES: {missing}"


def _params():
    # raises=AssertionError: a factory that breaks is an error, not the expected failure
    return [pytest.param(name, marks=[pytest.mark.xfail(strict=True, reason=reason,
                                                        raises=AssertionError)]
                         if reason else [], id=name)
            for name, (_, reason) in FACTORIES.items()]


@pytest.mark.parametrize("name", _params())
def test_repr_is_short_and_names_the_class(name, tmp_path):
    cls = public_classes().get(name.split(" ")[0])
    if cls is None:
        pytest.skip(f"{name} is not available here (torch missing?)")
    obj = FACTORIES[name][0](tmp_path)
    try:
        assert isinstance(obj, cls), f"the factory of {name} made a {type(obj).__name__}"
        text = repr(obj)
        assert not re.search(r"object at 0x[0-9a-f]+>", text), f"default repr: {text}"
        shown = type(obj).__name__  # the class itself, or the model built on a mixin
        assert shown in text, f"{shown!r} not in {text!r}"
        assert len(text) < MAX_CHARS, f"repr of {name} has {len(text)} characters, " \
                                      f"expected < {MAX_CHARS}: {text[:400]}"
    finally:
        if name == "AtomicWriter":
            obj.__exit__(RuntimeError, None, None)  # drops the temporary file
