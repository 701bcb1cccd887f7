"""Print wavedil's import graph (rooms and modules) and check the layout rules.

Every module of ``wavedil/`` is parsed with ``ast``, so imports inside functions (the lazy
ones) count as much as the ones at the top. An edge ``a -> b`` means module ``a`` imports
module ``b`` (``from .x import name`` points at ``x``; ``from . import x`` at the module
``x``); the implicit import of parent packages is not an edge.

Rooms sit on floors; a room imports only from lower floors (and from itself)::

    0  engine, seed, version
    1  receptive
    2  wavelets, models          (not from each other)
    3  nn
    4  io, cli, plot, dask
    5  wavedil (the package's __init__: the public API) and __main__

Rooms on one floor may import each other (the cycle rule still holds), except the pairs
in ``SIDE_BY_SIDE``.

Rules (``tests/test_layout.py`` fails on any breach): no import cycle between modules,
lazy imports included; no upward import between rooms; no import of a private name
(a module or an attribute with a leading underscore) from another room; no module over
``MAX_LINES`` lines (the generated tables are exempt).

Usage: ``python scripts/import_graph.py [--modules] [--check]``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "wavedil"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
FLOORS = {
    "engine": 0, "seed": 0, "version": 0,
    "receptive": 1,
    "wavelets": 2, "models": 2,
    "nn": 3,
    "io": 4, "cli": 4, "plot": 4, "dask": 4,
    PACKAGE: 5, "__main__": 5,
}
SIDE_BY_SIDE = {frozenset({"wavelets", "models"})}  # same floor, must not import each other
MAX_LINES = 650
EXEMPT_FROM_LENGTH = {"wavedil.wavelets._tables"}


@dataclass(frozen=True)
class Edge:
    source: str   # importing module
    target: str   # imported module
    name: str     # the imported attribute ("" for a module import)
    line: int
    lazy: bool    # inside a function


@dataclass
class Graph:
    modules: dict[str, int] = field(default_factory=dict)  # module -> line count
    edges: list[Edge] = field(default_factory=list)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def room(module: str) -> str:
    """``wavedil.engine.conv`` -> ``engine``; the package itself -> ``wavedil``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a relative import ``from <level dots><target> import ...``."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, modules: set[str],
                 bound: dict[str, set[str]]):
        self.module, self.is_package, self.modules = module, is_package, modules
        self.bound = bound  # package -> names its __init__ binds by `from ... import`
        self.depth = 0
        self.found: list[tuple[str, str, int, bool]] = []

    def _function(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _add(self, target: str, name: str, line: int):
        if target == PACKAGE or target.startswith(PACKAGE + "."):
            self.found.append((target, name, line, self.depth > 0))

    def visit_Import(self, node: ast.Import):
        for alias in node.names:
            self._add(alias.name, "", node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom):
        base = _resolve(self.module, self.is_package, node.level, node.module)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            if sub in self.modules and alias.name not in self.bound.get(base, ()):
                self._add(sub, "", node.lineno)
            else:
                self._add(base, alias.name, node.lineno)


def _bound_names(tree: ast.Module) -> set[str]:
    """Names a package's ``__init__`` binds with ``from .x import name`` (x not empty): such a
    name is the attribute, even when a submodule has the same name (``wavelets.denoise``)."""
    return {(a.asname or a.name) for node in tree.body if isinstance(node, ast.ImportFrom)
            and node.module for a in node.names}


def build(root: Path = ROOT) -> Graph:
    paths = sorted(root.rglob("*.py"))
    names = {module_name(p, root): p for p in paths}
    texts = {name: path.read_text(encoding="utf-8") for name, path in names.items()}
    trees = {name: ast.parse(texts[name], filename=str(path)) for name, path in names.items()}
    bound = {name: _bound_names(trees[name]) for name, path in names.items()
             if path.name == "__init__.py"}
    graph = Graph()
    for name, path in names.items():
        graph.modules[name] = len(texts[name].splitlines())
        visitor = _Visitor(name, path.name == "__init__.py", set(names), bound)
        visitor.visit(trees[name])
        for target, attr, line, lazy in visitor.found:
            if target not in names:  # `import wavedil.x.y` of something that is not a module
                target = target.rsplit(".", 1)[0]
            graph.edges.append(Edge(name, target, attr, line, lazy))
    return graph


def room_edges(graph: Graph) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {r: set() for r in map(room, graph.modules)}
    for e in graph.edges:
        if room(e.source) != room(e.target):
            out[room(e.source)].add(room(e.target))
    return out


def cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself)."""
    succ: dict[str, set[str]] = {m: set() for m in graph.modules}
    for e in graph.edges:
        succ[e.source].add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(succ[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in succ[v]:
                found.append(sorted(comp))

    for v in sorted(graph.modules):
        if v not in index:
            visit(v)
    return found


def upward(graph: Graph) -> list[Edge]:
    """Edges to a room on a higher floor, or between two rooms of ``SIDE_BY_SIDE``."""
    bad = []
    for e in graph.edges:
        a, b = room(e.source), room(e.target)
        if a == b or a not in FLOORS or b not in FLOORS:
            continue
        if FLOORS[b] > FLOORS[a] or frozenset({a, b}) in SIDE_BY_SIDE:
            bad.append(e)
    return bad


def private_imports(graph: Graph) -> list[Edge]:
    """Edges that reach a private module or attribute of another room."""
    bad = []
    for e in graph.edges:
        if room(e.source) == room(e.target):
            continue
        names = e.target.split(".")[1:] + ([e.name] if e.name else [])
        if any(is_private(n) for n in names):
            bad.append(e)
    return bad


def too_long(graph: Graph) -> dict[str, int]:
    return {m: n for m, n in graph.modules.items()
            if n > MAX_LINES and m not in EXEMPT_FROM_LENGTH}


def unknown_rooms(graph: Graph) -> list[str]:
    return sorted({room(m) for m in graph.modules} - set(FLOORS))


def _edge(e: Edge) -> str:
    what = f"{e.target}.{e.name}" if e.name else e.target
    return f"{e.source}:{e.line} imports {what}{' (lazy)' if e.lazy else ''}"


def report(graph: Graph, modules: bool = False) -> tuple[str, int]:
    lines = ["rooms (floor: room -> rooms it imports):"]
    rooms = room_edges(graph)
    for r in sorted(rooms, key=lambda r: (FLOORS.get(r, 99), r)):
        targets = ", ".join(sorted(rooms[r], key=lambda t: (FLOORS.get(t, 99), t))) or "-"
        lines.append(f"  {FLOORS.get(r, '?')}: {r:<10} -> {targets}")
    if modules:
        lines.append("")
        lines.append("modules (module -> modules it imports; * lazy):")
        for m in sorted(graph.modules):
            out = sorted({(e.target, e.lazy) for e in graph.edges if e.source == m})
            targets = ", ".join(t + ("*" if lazy else "") for t, lazy in out) or "-"
            lines.append(f"  {m} -> {targets}")
    lines.append("")
    exempt = ", ".join(sorted(EXEMPT_FROM_LENGTH))
    lines.append(f"line counts (limit {MAX_LINES}; exempt: {exempt}):")
    for m, n in sorted(graph.modules.items(), key=lambda kv: (kv[1], kv[0])):
        lines.append(f"  {n:5d}  {m}")
    problems = ([f"cycle: {' <-> '.join(c)}" for c in cycles(graph)]
                + [f"upward: {_edge(e)}" for e in upward(graph)]
                + [f"private: {_edge(e)}" for e in private_imports(graph)]
                + [f"too long: {m} has {n} lines (limit {MAX_LINES})"
                   for m, n in too_long(graph).items()]
                + [f"unknown room: {r} (add it to FLOORS)" for r in unknown_rooms(graph)])
    lines.append("")
    lines.append(f"rule violations: {len(problems)}")
    lines.extend(f"  {p}" for p in problems)
    return "\n".join(lines), len(problems)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", action="store_true", help="also print the module graph")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 if a rule is broken")
    args = parser.parse_args(argv)
    text, problems = report(build(), modules=args.modules)
    print(text)
    return 1 if args.check and problems else 0


if __name__ == "__main__":
    sys.exit(main())
