"""The layers of DESIGN.md, checked on the source: no import cycles, and imports point down only.

The graph is read with `ast`, so imports inside functions count as much as those at the top of a
file (a function-level import hides a cycle from Python until the function runs, not from us).
Imports under `if TYPE_CHECKING:` never run and are left out of the cycle check. Importing
`a.b.c` also runs the packages `a` and `a.b`, so those count as imported too.

The layer rules:
- `coachcli/cli/` parses and renders. At run time it may reach the store only through the
  plumbing that opens it and keeps its schema (`store.engine`, `store.peek`, `store.migrate`,
  `store.maintenance`, `store.types`); never `sqlalchemy`/`sqlmodel` (queries, `select`, `text`,
  sessions' internals) or the table models and raw SQL of `store/` (`store.models`,
  `store.search_sql`, …). Type-only imports of the models are fine: they name what a service
  returns. So SQL stays in `coaching/` and `store/`.
- `coachcli/coaching/` holds the logic: no `typer`, no `rich`, not even for types.
- Only `coachcli/llm/` imports `litellm`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "coachcli"

# What cli/ may import from store/ at run time: opening a store and keeping its schema.
CLI_STORE_PLUMBING = {
    "coachcli.store",
    "coachcli.store.engine",
    "coachcli.store.migrate",
    "coachcli.store.maintenance",
    "coachcli.store.peek",  # a read-only session for shell completion
    "coachcli.store.types",
}
SQL_LIBRARIES = ("sqlalchemy", "sqlmodel")


@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # absolute dotted name, as written or resolved from a relative import
    line: int
    type_only: bool  # under `if TYPE_CHECKING:`


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports_in(node: ast.AST, module: str, is_package: bool, type_only: bool) -> Iterator[Import]:
    """Every import under `node`, at any depth (functions, classes, try blocks…)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            body = ast.Module(body=child.body, type_ignores=[])
            orelse = ast.Module(body=child.orelse, type_ignores=[])
            yield from _imports_in(body, module, is_package, True)
            yield from _imports_in(orelse, module, is_package, type_only)
            continue
        if isinstance(child, ast.Import):
            for alias in child.names:
                yield Import(module, alias.name, child.lineno, type_only)
        elif isinstance(child, ast.ImportFrom):
            base = _resolve(module, is_package, child.module, child.level)
            yield Import(module, base, child.lineno, type_only)
            for alias in child.names:
                if alias.name != "*":
                    yield Import(module, f"{base}.{alias.name}", child.lineno, type_only)
        yield from _imports_in(child, module, is_package, type_only)


def _resolve(module: str, is_package: bool, name: str | None, level: int) -> str:
    """`from ..x import y` inside `module` → the absolute name of `..x`."""
    if level == 0:
        return name or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, name] if name else base)


def read_imports(root: Path = ROOT) -> list[Import]:
    found: list[Import] = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found.extend(_imports_in(tree, module_name(path, root), path.name == "__init__.py", False))
    return found


def import_graph(imports: list[Import], modules: set[str]) -> dict[str, set[str]]:
    """Module → the project modules it runs when imported (parent packages included)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for imp in imports:
        if imp.type_only:
            continue
        parts = imp.target.split(".")
        for end in range(1, len(parts) + 1):
            target = ".".join(parts[:end])
            if target in modules and target != imp.importer:
                graph[imp.importer].add(target)
    return graph


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle (as a closed path) per strongly connected component with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(start: str) -> None:  # Tarjan's algorithm, iterative (no recursion limit)
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_through(graph, component) for component in components]


def _cycle_through(graph: Mapping[str, set[str]], component: set[str]) -> list[str]:
    """A shortest closed path inside the component, to name in the failure message."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & component):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    raise AssertionError("a strongly connected component always closes a cycle")  # pragma: no cover


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return read_imports()


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    """The detector itself fails on a synthetic package whose cycle only shows inside a function."""
    package = tmp_path / "coachcli"
    (package / "cli").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "cli" / "__init__.py").write_text("")
    (package / "cli" / "chat.py").write_text("def go():\n    from coachcli.cli.repl import Repl\n")
    (package / "cli" / "repl.py").write_text("from . import turn\n")
    (package / "cli" / "turn.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from coachcli.cli import chat\n"
        "def run():\n    from .chat import go\n"
    )
    found = read_imports(package)
    modules = {i.importer for i in found}
    cycles = find_cycles(import_graph(found, modules))
    assert cycles == [["coachcli.cli.chat", "coachcli.cli.repl", "coachcli.cli.turn", "coachcli.cli.chat"]]
    type_only = [i for i in found if i.type_only]
    assert [i.target for i in type_only] == ["coachcli.cli", "coachcli.cli.chat"]
    # Without the function-level import in turn.py, there is no cycle left.
    (package / "cli" / "turn.py").write_text("x = 1\n")
    found = read_imports(package)
    assert find_cycles(import_graph(found, {i.importer for i in found})) == []


def test_no_import_cycles(imports: list[Import]) -> None:
    modules = {module_name(path) for path in ROOT.rglob("*.py")}
    cycles = find_cycles(import_graph(imports, modules))
    assert cycles == [], "import cycles:\n" + "\n".join(" → ".join(c) for c in cycles)


def _top(name: str) -> str:
    return name.split(".")[0]


def test_cli_reaches_the_store_only_through_its_plumbing(imports: list[Import]) -> None:
    bad = [
        f"{i.importer}:{i.line} imports {i.target}"
        for i in imports
        if i.importer.startswith("coachcli.cli")
        and not i.type_only
        and (
            _top(i.target) in SQL_LIBRARIES
            or (i.target.startswith("coachcli.store.") and not _in_plumbing(i.target))
        )
    ]
    assert bad == [], "cli/ must leave SQL to coaching/ and store/:\n" + "\n".join(bad)


def _in_plumbing(target: str) -> bool:
    # `from coachcli.store.engine import Store` is read as both the module and `engine.Store`.
    return target in CLI_STORE_PLUMBING or target.rsplit(".", 1)[0] in CLI_STORE_PLUMBING - {"coachcli.store"}


def test_coaching_imports_neither_typer_nor_rich(imports: list[Import]) -> None:
    bad = [
        f"{i.importer}:{i.line} imports {i.target}"
        for i in imports
        if i.importer.startswith("coachcli.coaching") and _top(i.target) in ("typer", "rich", "click")
    ]
    assert bad == [], "coaching/ is logic only:\n" + "\n".join(bad)


def test_only_llm_imports_litellm(imports: list[Import]) -> None:
    bad = [
        f"{i.importer}:{i.line} imports {i.target}"
        for i in imports
        if _top(i.target) == "litellm" and not i.importer.startswith("coachcli.llm")
    ]
    assert bad == [], "litellm belongs to coachcli/llm/:\n" + "\n".join(bad)


def test_the_rules_see_function_level_and_relative_imports(imports: list[Import]) -> None:
    """The checks above would see a violation wherever it hides: a known function-level import of
    the project is found, resolved to its absolute name."""
    chat = [i for i in imports if i.importer == "coachcli.cli.chat" and not i.type_only]
    assert any(i.target == "coachcli.cli.repl" for i in chat)  # imported inside chat_cmd
    assert _resolve("coachcli.cli.turn", False, "output", 1) == "coachcli.cli.output"
    assert _resolve("coachcli.coaching.tools", True, "base", 1) == "coachcli.coaching.tools.base"
    assert _resolve("coachcli.coaching.tools.base", False, None, 2) == "coachcli.coaching"
