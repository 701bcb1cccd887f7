"""Every public function and method of wavedil carries type annotations.

Public: a name without a leading underscore in a module without one, and every method
(plus ``__init__``) of a public class, inherited ones defined in wavedil included.
``make typecheck`` (mypy, part of ``make test``) then checks the annotated code.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import wavedil


def _public_modules():
    for info in pkgutil.walk_packages(wavedil.__path__, "wavedil."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            yield importlib.import_module(info.name)


def _functions(cls):
    """``(name, function, bound)`` for the public methods of ``cls`` defined in wavedil."""
    seen = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("wavedil"):
            continue
        for name, attr in vars(klass).items():
            if name in seen or (name.startswith("_") and name != "__init__"):
                continue
            seen.add(name)
            if isinstance(attr, staticmethod):
                yield name, attr.__func__, False
            elif isinstance(attr, classmethod):
                yield name, attr.__func__, True
            elif isinstance(attr, property):
                for f in (attr.fget, attr.fset):
                    if f is not None:
                        yield name, f, True
            elif inspect.isfunction(attr):
                yield name, attr, True


def public_callables():
    """``(qualified name, function, bound)`` for every public function and method."""
    for module in _public_modules():
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj, False
            elif inspect.isclass(obj):
                for method, f, bound in _functions(obj):
                    yield f"{module.__name__}.{name}.{method}", f, bound


def missing_annotations(function, bound: bool) -> list[str]:
    """The parameters (``self``/``cls`` excepted) and ``return`` that lack an annotation."""
    params = list(inspect.signature(function).parameters.values())
    if bound and params:
        params = params[1:]
    missing = [p.name for p in params if p.annotation is inspect.Parameter.empty]
    if inspect.signature(function).return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


def test_the_walk_finds_the_public_api():
    names = {name for name, _, _ in public_callables()}
    for expected in ("wavedil.seed.dilated_convolve", "wavedil.engine.conv.DilatedConv1d.stream",
                     "wavedil.models.tcn.TCN.__init__", "wavedil.nn.models.WaveNet.forward",
                     "wavedil.wavelets.transform.atrous"):
        assert expected in names
    assert len(names) > 200


def test_every_public_function_is_annotated():
    missing = {name: gaps for name, f, bound in public_callables()
               if (gaps := missing_annotations(f, bound))}
    assert not missing, "public functions without annotations: " + "; ".join(
        f"{name} ({', '.join(gaps)})" for name, gaps in sorted(missing.items()))


def test_the_check_sees_a_missing_annotation():
    def unannotated(self, x, y: int = 0):
        return x

    def annotated(self, x: int) -> int:
        return x

    assert missing_annotations(unannotated, True) == ["x", "return"]
    assert missing_annotations(annotated, True) == []
