"""No import cycle anywhere in rxapp/ (issue 23): the module import graph, read with `ast`.

Every `import` counts, wherever it stands: at module level, inside a function (a "lazy" import that
only dodges a cycle at load time is still a cycle in the design) and under `if TYPE_CHECKING:`.
The low modules the rest of the app stands on import nothing from it but each other.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# import nothing from the app but each other
LOW_MODULES = ("rxapp.settings", "rxapp.limiters", "rxapp.redis_script", "rxapp.bench_switches")
_STRENGTH = {"module level": 0, "in a function": 1, "type checking only": 2}  # reported: the strongest


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    where: str  # "module level", "in a function" or "type checking only"

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}  (line {self.line}, {self.where})"


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted name -> file, for every .py file of the package (a package is its __init__.py)."""
    names = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, known: dict[str, Path]) -> None:
        self.module, self.known = module, known
        self.base = module.split(".") if is_package else module.split(".")[:-1]
        self.where = ["module level"]
        self.edges: dict[str, Edge] = {}

    def _nested(self, node: ast.AST, where: str) -> None:
        self.where.append(where)
        self.generic_visit(node)
        self.where.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._nested(node, "in a function")

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._nested(node, "in a function")

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" not in ast.unparse(node.test):
            self.generic_visit(node)
            return
        self.visit(node.test)
        self.where.append("type checking only")
        for statement in node.body:
            self.visit(statement)
        self.where.pop()
        for statement in node.orelse:
            self.visit(statement)

    def _add(self, name: str, line: int) -> None:
        while name and name not in self.known:  # `rxapp.x.attr` -> the module that defines attr
            name = name.rpartition(".")[0]
        if name and name != self.module:
            where = self.where[-1]
            kept = self.edges.get(name)
            if kept is None or _STRENGTH[where] < _STRENGTH[kept.where]:
                self.edges[name] = Edge(self.module, name, line, where)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.base[: len(self.base) - (node.level - 1)]
            source = ".".join([*base, node.module] if node.module else base)
        else:
            source = node.module or ""
        for alias in node.names:  # `from rxapp import db` imports the module rxapp.db
            self._add(f"{source}.{alias.name}", node.lineno)


def import_graph(root: Path, package: str = "rxapp") -> dict[str, dict[str, Edge]]:
    """module -> {imported module of the same package -> the edge}; other packages are left out."""
    known = module_names(root, package)
    graph = {}
    for name, path in known.items():
        visitor = _Imports(name, path.name == "__init__.py", known)
        visitor.visit(ast.parse(path.read_text(), str(path)))
        graph[name] = visitor.edges
    return graph


def _strongly_connected(graph: dict[str, dict[str, Edge]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one module (self-imports are dropped)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph[target])))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
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


def _one_cycle(graph: dict[str, dict[str, Edge]], component: list[str]) -> list[Edge]:
    """A shortest cycle through the component's first module, as the edges that make it."""
    members, start = set(component), component[0]
    came_from: dict[str, Edge] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target, edge in graph[node].items():
            if target == start:
                path = [edge]
                while path[0].source != start:
                    path.insert(0, came_from[path[0].source])
                return path
            if target in members and target not in came_from:
                came_from[target] = edge
                queue.append(target)
    raise AssertionError(f"no cycle found in {component}")


def cycles(graph: dict[str, dict[str, Edge]]) -> list[list[Edge]]:
    """One cycle per knot of modules that import each other (directly or around a loop)."""
    return [_one_cycle(graph, component) for component in _strongly_connected(graph)]


def _report(graph: dict[str, dict[str, Edge]]) -> str:
    return "\n\n".join(
        f"import cycle among {', '.join(component)}; one of them:\n  "
        + "\n  ".join(map(str, _one_cycle(graph, component)))
        for component in _strongly_connected(graph)
    )


def test_rxapp_has_no_import_cycle() -> None:
    graph = import_graph(ROOT)
    assert len(graph) > 50 and sum(map(len, graph.values())) > 200  # the whole package was read
    assert not cycles(graph), _report(graph)


def test_the_low_modules_import_nothing_from_the_app() -> None:
    graph = import_graph(ROOT)
    for module in LOW_MODULES:
        above = {target: where for target, where in graph[module].items() if target not in LOW_MODULES}
        assert not above, f"{module} must stay low: " + ", ".join(map(str, above.values()))
    # The context builds everything from settings and limiters alone (both low).
    assert set(graph["rxapp.context"]) <= set(LOW_MODULES), graph["rxapp.context"]


def test_the_check_finds_a_cycle_hidden_in_a_function_or_behind_type_checking(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text("def later():\n    from .. import a\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import d\nelse:\n    pass\n"
    )
    (package / "d.py").write_text("import pkg.c as c_module\n")
    (package / "e.py").write_text("from pkg import a\n")  # into a cycle, not part of one
    graph = import_graph(tmp_path, "pkg")
    found = cycles(graph)
    assert sorted([str(edge) for edge in cycle] for cycle in found) == [
        ["pkg.a -> pkg.sub.b  (line 1, module level)", "pkg.sub.b -> pkg.a  (line 2, in a function)"],
        ["pkg.c -> pkg.d  (line 3, type checking only)", "pkg.d -> pkg.c  (line 1, module level)"],
    ]
    assert "import cycle among pkg.a, pkg.sub.b; one of them:\n  pkg.a -> pkg.sub.b" in _report(graph)
