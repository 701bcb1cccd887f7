"""Sphinx helpers for the wavedil site: the command-line reference and the gallery hook.

``.. wavedil-cli::`` runs ``wavedil.cli.build_parser()`` at build time and writes the help
of ``wavedil`` and of each subcommand (every one the parser has, so a new subcommand needs
no edit here), as ``wavedil COMMAND --help`` prints it at 88 columns.

``gallery_argv`` is sphinx-gallery's ``reset_argv`` hook: the examples run with no
arguments, and with ``__file__`` and ``__doc__`` set as ``python examples/NAME.py`` sets
them (sphinx-gallery leaves the first out and empties the second; the examples find
``data/`` from one and build their ``--help`` from the other).
"""

from __future__ import annotations

import argparse
import ast
import os
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

WIDTH = "88"  # the help text's columns (argparse reads COLUMNS)


def _help(parser: argparse.ArgumentParser) -> str:
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        return parser.format_help()
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommand parsers of ``parser``, by name, in the order ``--help`` lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _literal(text: str) -> list[str]:
    body = ["    " + line for line in text.rstrip().splitlines()]
    return [".. code-block:: text", ""] + body + [""]


class CliHelp(SphinxDirective):
    """The ``--help`` of ``wavedil`` and of each subcommand, one section each."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        import wavedil.cli
        from wavedil.cli import build_parser

        for source in sorted(Path(wavedil.cli.__file__).parent.glob("*.py")):
            self.env.note_dependency(str(source))  # rebuilt when an option changes
        parser = build_parser()
        lines = ["``wavedil --help``", "-" * 18, ""] + _literal(_help(parser))
        for name, sub in subcommands(parser).items():
            title = f"``wavedil {name}``"
            lines += [title, "-" * len(title), ""] + _literal(_help(sub))
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, "wavedil-cli"), container)
        return container.children


def exits_at_top_level(tree: ast.Module) -> bool:
    """Whether the module's top level (its ``__main__`` block included) can exit with
    success (``raise SystemExit(main())``, ``sys.exit(0)``): in the gallery's process that
    would end the build early and silently. An exit on failure (``SystemExit(1)``, a
    message) fails the build loudly and is fine."""
    for node in tree.body:
        for inner in ast.walk(node) if isinstance(node, (ast.If, ast.Expr, ast.Raise)) else ():
            call: ast.AST | None = None
            if isinstance(inner, ast.Raise) and inner.exc is not None:
                target = inner.exc.func if isinstance(inner.exc, ast.Call) else inner.exc
                call = inner.exc if ast.unparse(target) == "SystemExit" else None
            elif isinstance(inner, ast.Call) and ast.unparse(inner.func) in ("sys.exit", "exit"):
                call = inner
            if call is None:
                continue
            args = call.args if isinstance(call, ast.Call) else []
            if not (len(args) == 1 and isinstance(args[0], ast.Constant) and (
                    isinstance(args[0].value, str)
                    or (isinstance(args[0].value, int) and args[0].value))):
                return True
    return False


def gallery_argv(gallery_conf: dict[str, Any], script_vars: dict[str, Any]) -> list[str]:
    """sphinx-gallery's ``reset_argv``: no arguments; ``__file__`` and ``__doc__`` set."""
    namespace = script_vars.get("example_globals")
    if namespace is not None:
        source = Path(script_vars["src_file"])
        tree = ast.parse(source.read_text())
        if exits_at_top_level(tree):
            raise ValueError(f"{source.name} can exit with success at its top level "
                             f"(SystemExit or sys.exit); the gallery runs examples in its own "
                             f"process, so end the __main__ block with a plain main() call")
        namespace["__file__"] = str(source)
        namespace["__doc__"] = ast.get_docstring(tree) or ""
    return []


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("wavedil-cli", CliHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
