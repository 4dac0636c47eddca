"""No import cycle among the modules of `include/`, counting every import (module level and inside functions).

A cycle held together by imports inside functions is still a cycle: it only moves the failure from import time to
run time. Read with the stdlib `ast`, so the check needs nothing installed and runs in well under a second."""

from __future__ import annotations

import ast
from pathlib import Path

INCLUDE = Path(__file__).resolve().parents[2] / "include"


def _module_name(path: Path) -> str:
    parts = path.relative_to(INCLUDE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The `include.*` modules `path` imports: `from pkg import name` counts as `pkg.name` when that is a module,
    relative imports are resolved, and a module's own ancestor packages are not edges (Python initialises them
    first whatever the module imports)."""
    own = _module_name(path)
    package = own if path.name == "__init__.py" else own.rsplit(".", 1)[0]
    targets: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            targets += [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                        for alias in node.names]
    found = set()
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != own and not own.startswith(target + "."):
            found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    files = sorted(INCLUDE.rglob("*.py"))
    modules = {_module_name(f) for f in files}
    return {_module_name(f): _imports(f, modules) for f in files}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_include_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_check_finds_a_cycle_held_together_by_a_function_level_import() -> None:
    graph = import_graph()
    assert "include.pipeline" in graph["include.run_dates"]
    graph["include.pipeline"] = graph["include.pipeline"] | {"include.run_dates"}  # as if pipeline imported it late
    assert ["include.pipeline", "include.run_dates"] in cycles(graph)
