"""The documentation site's sources stay complete (``make docs`` builds them; this needs no
Sphinx): every public name has an entry in the API reference and a docstring, every public
method and property of a public class has a docstring and a page that shows it, every
example can be a gallery page, every subcommand has help, and the README's links resolve.

(The build itself checks the last step too: ``docs/_ext/wavedil_reference.py`` warns, an
error under ``-W``, about any public name or member the built reference lacks.)
"""

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
API = DOCS / "api"
PACKAGE = ROOT / "wavedil"
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
sys.path.insert(0, str(DOCS / "_ext"))
import wavedil_reference as reference  # noqa: E402  (docs/_ext: no Sphinx needed)

# Modules without ``__all__``: their public names are the functions and classes they define.
MODULES = {"wavedil": "__init__.py", "wavedil.nn": "nn/__init__.py",
           "wavedil.cli": "cli/__init__.py", "wavedil.dask": "dask/__init__.py",
           "wavedil.plot": "plot.py"}
DIRECTIVE = re.compile(r"^\.\. (?:auto)?(?:function|class|exception|data|method)::\s*(\S+)",
                       re.M)


def public_names(module: str) -> list[str]:
    """``__all__`` of the module's source, else its top-level public defs and classes."""
    tree = ast.parse((PACKAGE / MODULES[module]).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return [n.name for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")]


def reference_entries() -> dict[str, set[str]]:
    """Module -> names the reference lists (autosummary items, auto*/data directives), and
    ``module -> {"*"}`` for an ``automodule`` with ``:members:`` (all its public names)."""
    entries: dict[str, set[str]] = {}
    for path in sorted(API.glob("*.rst")):
        text = path.read_text()
        module = None
        for line in text.splitlines():
            if m := re.match(r"\.\. (?:current)?module::\s*(\S+)", line):
                module = m.group(1)
            elif m := re.match(r"\.\. automodule::\s*(\S+)", line):
                module = m.group(1)
            elif line.strip() == ":members:" and module:
                entries.setdefault(module, set()).add("*")
            elif module and (m := re.match(r"^   ([A-Za-z_][\w.]*)\s*$", line)):
                entries.setdefault(module, set()).add(m.group(1))  # an autosummary item
            elif module and (m := DIRECTIVE.match(line)):
                entries.setdefault(module, set()).add(m.group(1))
    return entries


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_public_name_has_a_reference_entry(module):
    names = public_names(module)
    assert names, f"found no public names in {MODULES[module]}"
    listed = reference_entries().get(module, set())
    missing = [] if "*" in listed else [n for n in names if n not in listed]
    assert missing == [], (f"{module}: no entry in docs/api/*.rst for {missing}; add each to "
                           f"an autosummary list under `.. currentmodule:: {module}`")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_public_name_has_a_docstring(module):
    mod = importlib.import_module(module)
    assert (mod.__doc__ or "").strip(), f"{module} has no module docstring"
    empty = [n for n in public_names(module) if n != "__version__"
             and not (getattr(getattr(mod, n), "__doc__", None) or "").strip()]
    assert empty == [], f"{module}: public names without a docstring: {empty}"


def class_directives() -> dict[str, tuple[str, set[str]]]:
    """Documented class name -> how its page is made: ``("template", {})`` for an
    autosummary item with ``:toctree:`` (``_templates/autosummary/class.rst``), else
    ``("automodule", options)`` or ``("autoclass", options)`` with the directive's options."""
    found: dict[str, tuple[str, set[str]]] = {}
    for path in sorted(API.glob("*.rst")):
        lines = path.read_text().splitlines() + [""]
        module = None
        for i, line in enumerate(lines):
            if m := re.match(r"\.\. (?:current)?module::\s*(\S+)", line):
                module = m.group(1)
                continue
            m = re.match(r"\.\. (autosummary|automodule|autoclass|autoexception)::\s*(\S*)", line)
            if not m:
                continue
            block = []
            for following in lines[i + 1:]:
                if following and not following.startswith("   "):
                    break
                block.append(following.strip())
            options = {b.split(":")[1] for b in block if b.startswith(":")}
            kind, target = m.groups()
            if kind == "autosummary" and "toctree" in options:
                for item in block:
                    if item and not item.startswith(":"):
                        found[f"{module}.{item}"] = ("template", set())
            elif kind == "automodule":
                module = target
                for name in reference.public_names(target):
                    found.setdefault(f"{target}.{name}", ("automodule", options))
            elif kind in ("autoclass", "autoexception"):
                found[f"{module}.{target}"] = ("autoclass", options)
    return found


def test_every_public_member_has_a_docstring():
    """Every method and property a class page shows (its own, and those from a private
    base) has a docstring: autodoc leaves a member without one out of the reference."""
    public = reference.public_classes()
    empty = [f"{name}.{member}" for cls, name in public.items()
             for member, value in reference.page_members(cls, public).items()
             if not reference.docstring(value)]
    assert empty == [], f"public members without a docstring: {empty}"


def test_every_class_page_shows_its_public_members():
    """Each public class is documented with ``:members:`` and, when it inherits members
    from a private base, with the class template's ``:inherited-members:``, which leaves
    out only public classes' members (on their own pages) and classes outside wavedil."""
    template = (DOCS / "_templates" / "autosummary" / "class.rst").read_text()
    assert ":members:" in template and ":inherited-members: {{ skipped_bases }}" in template
    conf = (DOCS / "conf.py").read_text()
    assert "autosummary_context = wavedil_reference.template_context()" in conf
    assert '"wavedil_reference"' in conf, "the build's own check is not in the extensions"
    public = reference.public_classes()
    skipped = set(reference.skipped_bases(public))
    directives = class_directives()
    for cls, name in public.items():
        private = [base for base in cls.__mro__[1:]
                   if reference.is_ours(base) and base not in public]
        assert not [b for b in private if b.__name__ in skipped], (
            f"{name}: a private base shares a name with a skipped class, so its members "
            f"would vanish from the page: {[b.__name__ for b in private]}")
        kind, options = directives.get(name, ("missing", set()))
        members = reference.page_members(cls, public)
        inherited = sorted(m for m, v in members.items() if m not in vars(cls))
        if kind == "template" or not members:
            continue
        assert kind != "missing", f"{name} has no page in docs/api/*.rst"
        assert "members" in options, f"{name}: its {kind} directive needs :members:"
        assert not inherited, (f"{name} inherits {inherited} from a private base: list it "
                               f"in an autosummary with :toctree: (the class template)")


def test_the_reference_lists_no_name_that_is_gone():
    entries = reference_entries()
    for module, names in entries.items():
        if module not in MODULES:
            continue
        extra = sorted(n for n in names - {"*"} if n not in public_names(module))
        assert extra == [], f"docs/api lists {module} names that are not public: {extra}"


def test_the_reference_and_the_guides_are_in_the_toctrees():
    api_index = (API / "index.rst").read_text()
    for page in sorted(API.glob("*.rst")):
        assert page.name == "index.rst" or f"   {page.stem}\n" in api_index, page.name
    guides_index = (DOCS / "guides" / "index.md").read_text()
    for page in sorted((DOCS / "guides").glob("*.md")):
        assert page.name == "index.md" or f"\n{page.stem}\n" in guides_index, page.name


def silent_exit(node: ast.AST) -> bool:
    """``raise SystemExit(x)``, ``sys.exit(x)`` or ``exit(x)`` unless ``x`` is a non-zero
    integer or a message: an exit that can be a success."""
    if isinstance(node, ast.Raise) and node.exc is not None:
        call = node.exc
        if ast.unparse(call.func if isinstance(call, ast.Call) else call) != "SystemExit":
            return False
    elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("sys.exit", "exit"):
        call = node
    else:
        return False
    args = call.args if isinstance(call, ast.Call) else []
    failure = len(args) == 1 and isinstance(args[0], ast.Constant) and (
        isinstance(args[0].value, str) or (isinstance(args[0].value, int) and args[0].value))
    return not failure


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_can_be_a_gallery_page(path):
    """sphinx-gallery takes an example's title from its docstring's first line, underlined,
    and runs it in the build's own process, so a SystemExit there would end the build."""
    tree = ast.parse(path.read_text())
    doc = ast.get_docstring(tree, clean=False) or ""
    lines = doc.splitlines()
    assert len(lines) >= 2 and lines[0].strip() and re.fullmatch(r"=+", lines[1]) and (
        len(lines[1]) >= len(lines[0])), (
        f"{path.name}: the docstring must start with a title underlined by '=' (at least as "
        f"long as the title), got {lines[:2]}")
    for node in tree.body:
        for inner in ast.walk(node) if isinstance(node, (ast.If, ast.Expr, ast.Raise)) else ():
            assert not silent_exit(inner), (
                f"{path.name} line {inner.lineno}: the gallery runs examples in its own "
                f"process, where a successful exit would end the build; end the __main__ "
                f"block with main() (an exit on failure, e.g. SystemExit(1), is fine)")


def test_every_subcommand_has_help_for_the_cli_page():
    from wavedil.cli import build_parser

    subparsers = [a for a in build_parser()._actions if a.__class__.__name__ ==
                  "_SubParsersAction"]
    assert len(subparsers) == 1
    helps = {a.dest: a.help for a in subparsers[0]._choices_actions}
    assert set(helps) == set(subparsers[0].choices) and all(helps.values()), helps
    assert ".. wavedil-cli::" in (API / "cli.rst").read_text()


def test_readme_links_into_the_site_sources_resolve():
    readme = (ROOT / "README.md").read_text()
    assert "make docs" in readme
    links = re.findall(r"\]\(((?:docs|examples)/[^)#\s]+)", readme)
    assert any(link.startswith("docs/") for link in links), "README links no docs/ source"
    for link in links:
        assert (ROOT / link).exists(), f"README links {link}, which does not exist"
    pictures = [link for link in links if link.endswith(".png")]
    assert pictures, "README shows no picture from docs/"
    for picture in pictures:
        data = (ROOT / picture).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) < 100_000, (picture, len(data))
