"""The import graph of privmoe's four layers, and what is wrong with it (``tests/test_layering.py``).

Layers point down: ``functionalities`` <- ``protocols`` <- ``simulators`` <- ``analysis``. A module may
import its own layer or a lower one, never a higher one, and no set of modules may import each other in
a cycle. Every import counts, wherever it is written:

* ``import a.b`` and ``from a import b`` at the top of a file, inside a function, or under a condition;
  ``from a import b`` is an edge to the module ``a.b`` when that is a module or package, else to ``a``;
* relative imports (``from .x import y``), resolved against the importing module's package;
* ``importlib.import_module("a.b")`` / ``import_module(f"a.entries.{name}")``: an edge to the longest
  module named by the string's constant prefix (the registry's loading of ``analysis/entries`` is one).

>>> problems(Path("."))           # [] when the layering holds
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

#: bottom to top
LAYERS = ("functionalities", "protocols", "simulators", "analysis")


@dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` at ``line`` of ``path``."""

    source: str
    target: str
    path: str
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    """Every module of the four layers: dotted name -> file."""
    out = {}
    for layer in LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            out[module_name(root, path)] = path
    return out


def _longest_known(name: str, known: dict[str, Path]) -> str | None:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in known:
            return candidate
    return None


def _dynamic_prefix(call: ast.Call) -> str | None:
    """The constant prefix of ``import_module(<str>)``'s first argument, or None."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name != "import_module" or not call.args:
        return None
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value).rstrip(".")
    return None


def edges(root: Path) -> list[Edge]:
    """Every import between two modules of the layers (top-level, in functions, relative, dynamic)."""
    known = modules(root)
    out: list[Edge] = []
    for source, path in known.items():
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        rel = str(path.relative_to(root))

        def add(target: str | None, line: int) -> None:
            hit = _longest_known(target, known) if target else None
            if hit is not None and hit != source:
                out.append(Edge(source, hit, rel, line))

        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                for alias in node.names:
                    sub = f"{mod}.{alias.name}"
                    add(sub if sub in known else mod, node.lineno)
            elif isinstance(node, ast.Call):
                add(_dynamic_prefix(node), node.lineno)
    return out


def layer_of(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def upward(all_edges: list[Edge]) -> list[str]:
    """Imports from a lower layer into a higher one."""
    return [f"{e.path}:{e.line}: {e.source} imports {e.target} (layer {e.target.split('.')[0]} is above "
            f"{e.source.split('.')[0]})" for e in all_edges if layer_of(e.target) > layer_of(e.source)]


def cycles(all_edges: list[Edge]) -> list[list[str]]:
    """The import cycles: every strongly connected set of two or more modules (Tarjan), sorted."""
    graph: dict[str, set[str]] = {}
    for e in all_edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:                     # recursion depth <= number of modules (~150)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def problems(root: Path) -> list[str]:
    """Every upward import and every cycle under ``root`` (a checkout), as readable lines; [] when clean."""
    all_edges = edges(root)
    out = upward(all_edges)
    for component in cycles(all_edges):
        inside = set(component)
        where = [f"{e.source} -> {e.target} ({e.path}:{e.line})" for e in all_edges
                 if e.source in inside and e.target in inside]
        out.append("import cycle among " + ", ".join(component) + ": " + "; ".join(where))
    return out


if __name__ == "__main__":
    import sys

    found = problems(Path(__file__).resolve().parents[1])
    print("\n".join(found) or "layers point down; no import cycles")
    sys.exit(1 if found else 0)
