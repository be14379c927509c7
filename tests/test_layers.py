"""The layers of the house, read from the code's imports (grimp, the graph builder import-linter uses).

No module of the product takes part in an import cycle (a cycle among siblings is one module too many, or one
in the wrong place), and the bottom of the house imports nothing above it: `config` only itself, `core` only
itself and `config`. Every import counts, inside functions too; `lint-imports` checks the same and more in CI,
this test names the cycle in the suite itself.
"""

from __future__ import annotations

from collections.abc import Iterable

import grimp
import pytest

PACKAGES = ("core", "config", "db", "handlers", "scheduler", "bot")
BOTTOM = {"config": {"config"}, "core": {"core", "config"}}  # package → the project packages it may import


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES)


def cycles(nodes: Iterable[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_cycle_finder_finds_cycles() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert cycles(edges, edges) == [["a", "b", "c"]]


def test_no_import_cycles_among_the_products_modules(graph: grimp.ImportGraph) -> None:
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    found = cycles(graph.modules, edges)
    described = []
    for component in found:
        inside = set(component)
        links = [f"{m} -> {i}" for m in component for i in sorted(edges[m] & inside)]
        described.append("{" + ", ".join(component) + "}: " + "; ".join(links))
    assert not found, "import cycles:\n  " + "\n  ".join(described)


def upward_imports(graph: grimp.ImportGraph) -> list[str]:
    """Imports by `core` or `config` of a project package above them, as "importer -> imported"."""
    upward = []
    for package, allowed in BOTTOM.items():
        if package not in graph.modules:
            continue
        for module in sorted(graph.find_descendants(package) | {package}):
            for imported in sorted(graph.find_modules_directly_imported_by(module)):
                top = imported.split(".")[0]
                if top in PACKAGES and top not in allowed:
                    upward.append(f"{module} -> {imported}")
    return upward


def test_upward_imports_are_found() -> None:
    g = grimp.ImportGraph()
    for module in ("config", "config.clock", "core", "core.ids", "db", "db.models", "bot", "bot.app"):
        g.add_module(module)
    g.add_import(importer="core.ids", imported="config.clock")  # allowed
    g.add_import(importer="config.clock", imported="core.ids")
    g.add_import(importer="core", imported="db.models")
    g.add_import(importer="bot.app", imported="db.models")  # not the bottom's business
    assert upward_imports(g) == ["config.clock -> core.ids", "core -> db.models"]


def test_core_and_config_import_nothing_above_them(graph: grimp.ImportGraph) -> None:
    upward = upward_imports(graph)
    assert not upward, "imports from below: " + ", ".join(upward)
