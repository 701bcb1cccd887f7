"""What the API reference must show, and a build check that it does (Sphinx extension).

Every public name of ``MODULES`` has an entry, and every public class's page shows each of
its public methods and properties: those it defines, and those it inherits from a private
base (``wavedil.models.base.Model``, ``wavedil.nn.models._Model``, ...). Members inherited
from a public class are shown once, on that class's page (the class page names it); members
from outside wavedil (torch's ``nn.Module``, ``collections.abc``) are not ours to show.

``template_context()`` gives the class template (``_templates/autosummary/class.rst``) the
``:inherited-members:`` names that leave those out. ``setup`` adds a check after reading:
every name and member above must be an object of the built reference, else a warning (an
error under ``make docs``'s ``-W``). ``tests/test_docs_site.py`` uses the same functions
without Sphinx, to require a docstring on each member.
"""

from __future__ import annotations

import importlib
import inspect
from functools import cached_property
from typing import Any

MODULES = ("wavedil", "wavedil.nn", "wavedil.dask", "wavedil.plot", "wavedil.cli")


def public_names(module: str) -> list[str]:
    """``__all__`` of ``module``, else the public functions and classes it defines."""
    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", None)
    if names is not None:
        return list(names)
    return [name for name, obj in vars(mod).items() if not name.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj))
            and obj.__module__ == module]


def public_classes() -> dict[type, str]:
    """Every public class of ``MODULES``, by its documented name (``"wavedil.TCN"``)."""
    classes: dict[type, str] = {}
    for module in MODULES:
        mod = importlib.import_module(module)
        for name in public_names(module):
            obj = getattr(mod, name)
            if inspect.isclass(obj):
                classes.setdefault(obj, f"{module}.{name}")
    return classes


def is_ours(cls: type) -> bool:
    return cls.__module__ == "wavedil" or cls.__module__.startswith("wavedil.")


def is_member(value: Any) -> bool:
    """A method (plain, class or static), a property or a cached property."""
    return (inspect.isfunction(value) or isinstance(value, (classmethod, staticmethod,
                                                            property, cached_property)))


def docstring(value: Any) -> str:
    """The member's own docstring (not inherited: the reference shows none inherited)."""
    if isinstance(value, (classmethod, staticmethod)):
        value = value.__func__
    return (getattr(value, "__doc__", None) or "").strip()


def page_members(cls: type, public: dict[type, str]) -> dict[str, Any]:
    """The public members ``cls``'s page shows, by name: those whose first definition in
    the MRO is in ``cls`` or in a private wavedil base."""
    members = {}
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next((k for k in cls.__mro__ if name in vars(k)), None)
        if owner is None or not is_ours(owner) or (owner is not cls and owner in public):
            continue
        value = vars(owner)[name]
        if is_member(value):
            members[name] = value
    return members


def skipped_bases(public: dict[type, str]) -> list[str]:
    """Class names whose members a class page leaves out (``:inherited-members:``): the
    public classes (shown on their own page) and every class outside wavedil."""
    names = {cls.__name__ for cls in public}
    for cls in public:
        names |= {base.__name__ for base in cls.__mro__ if not is_ours(base)}
    return sorted(names)


def template_context() -> dict[str, Any]:
    """``autosummary_context``: the ``:inherited-members:`` names, and per class the public
    bases whose pages hold its other members."""
    public = public_classes()
    bases = {name: [public[base] for base in cls.__mro__[1:] if base in public]
             for cls, name in public.items()}
    return {"skipped_bases": ", ".join(skipped_bases(public)), "public_bases": bases}


def expected_objects() -> list[str]:
    """Every object the reference must hold: public names and their classes' members."""
    public = public_classes()
    names = [f"{module}.{name}" for module in MODULES for name in public_names(module)]
    for cls, name in public.items():
        names += [f"{name}.{member}" for member in page_members(cls, public)]
    return names


def check_reference(app: Any, env: Any) -> None:
    """After reading: warn about every expected object the reference lacks."""
    from sphinx.util import logging

    documented = set(env.get_domain("py").objects)
    logger = logging.getLogger(__name__)
    for name in expected_objects():
        if name not in documented:
            logger.warning(f"the API reference has no entry for {name}: give it a docstring "
                           f"(autodoc leaves out members without one) or an entry in "
                           f"docs/api/*.rst")


def setup(app: Any) -> dict[str, Any]:
    app.connect("env-check-consistency", check_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
