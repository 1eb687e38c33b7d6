"""Contract 1, import layering: imports point down the layers, and packages of one layer do not
import each other in a cycle.

Every import counts: module level, inside functions (a lazy import hides a cycle, it does not
remove it) and ``importlib.import_module("qianbao...")`` with a literal name. Imports under
``if TYPE_CHECKING:`` are exempt: they never run, so they create no runtime dependency or cycle,
and a port's signature may need to name a type from another layer. (Their ``else:`` branch does run
and is counted.)
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from tests.tidy.core import Finding, Module, ScopedVisitor, string_value

# Top to bottom. A module may import its own package, its own layer (without a package cycle)
# and any layer below. ``*/cli.py`` modules of every package are entry points too.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "entry point",
        frozenset(
            {"api", "web", "cli", "server", "entrypoints", "demo"}
            # terminal.py is what every CLI shares (console, error printing); bootstrap.py is the
            # composition root: entry points open the platform through it, nothing below may.
            | {"terminal", "bootstrap"}
            | {"cluster"}  # unit processes, the access layer, the local cluster (issue 13)
        ),
    ),
    (
        "use case",
        frozenset(
            {"payments", "credit", "marketing", "openapi", "scoring", "wealth", "risk", "notices"}
            | {"redpackets", "billpay", "backoffice", "onboarding"}
        ),
    ),
    ("money_movement", frozenset({"money_movement"})),  # the engine; need not exist yet
    ("ledger/members/channels", frozenset({"ledger", "members", "channels"})),
    ("platform", frozenset({"platform"})),
)
# Adapters that live in a product package but are entry points: the signed /gateway.do
# endpoint parses a merchant's request and calls the trade use cases (LAYOUT.md puts it under
# entrypoints/).
ENTRY_MODULES = frozenset({"qianbao.openapi.gateway"})
COMPOSITION_ROOT = "qianbao.bootstrap"  # may import anything: that is its job
ENTRY = 0
ORDER = " > ".join(name for name, _ in LAYERS)
PORT_HINT = (
    "define a port (a Protocol) in the importing package, implement it in {impl} and wire the "
    "implementation in src/qianbao/bootstrap.py"
)


@dataclass(frozen=True)
class Place:
    """Where a module sits: its layer (0 = top) and the package that owns it."""

    layer: int
    package: str

    @property
    def layer_name(self) -> str:
        return LAYERS[self.layer][0]


@dataclass(frozen=True)
class Import:
    module: Module
    target: str  # dotted module name
    line: int
    lazy: bool  # inside a function body


def place(name: str) -> Place | None:
    """The layer of a dotted module name; None for names outside ``qianbao.<package>``."""
    parts = name.split(".")
    if parts[0] != "qianbao" or len(parts) < 2:
        return None
    if parts[-1] == "cli" or name in ENTRY_MODULES:
        return Place(ENTRY, name)
    for index, (_, packages) in enumerate(LAYERS):
        if parts[1] in packages:
            return Place(index, parts[1])
    return None


def unplaced(modules: Sequence[Module]) -> list[str]:
    """Modules whose package is in no layer: a new package must be given its place first."""
    return [
        f"{m.display}: package qianbao.{m.name.split('.')[1]} is in no layer; add it to LAYERS "
        "in tests/tidy/layers.py (and to docs/contracts.md)"
        for m in modules
        if m.name != "qianbao" and place(m.name) is None
    ]


class _ImportCollector(ScopedVisitor):
    def __init__(self, module: Module, known: frozenset[str]) -> None:
        super().__init__()
        self.module, self.known = module, known
        self.imports: list[Import] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for stmt in node.orelse:  # exempt the TYPE_CHECKING body, count the else
                self.visit(stmt)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self._absolute(node)
        targets = {
            f"{base}.{a.name}" if f"{base}.{a.name}" in self.known else base for a in node.names
        }
        for target in sorted(targets):  # one statement counts once per module it reaches
            self._add(target, node.lineno)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        literal = string_value(node.args[0]) if node.args else None
        if name == "import_module" and literal is not None:
            self._add(literal, node.lineno)
        self.generic_visit(node)

    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = self.module.name.split(".")
        keep = len(parts) - node.level + (1 if self.module.is_package else 0)
        return ".".join(parts[:keep] + ([node.module] if node.module else []))

    def _add(self, target: str, line: int) -> None:
        if target == "qianbao" or target.startswith("qianbao."):
            self.imports.append(Import(self.module, target, line, lazy=bool(self.functions)))


def _is_type_checking(test: ast.expr) -> bool:
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", "")
    return name == "TYPE_CHECKING"


def collect_imports(modules: Sequence[Module]) -> list[Import]:
    """Every runtime import of a ``qianbao`` module, in file order."""
    known = frozenset(m.name for m in modules)
    found: list[Import] = []
    for module in modules:
        collector = _ImportCollector(module, known)
        collector.visit(module.tree)
        found.extend(collector.imports)
    return found


def _sideways_graph(imports: Sequence[Import]) -> dict[str, set[str]]:
    """Package -> packages of the same layer it imports (entry points are not packages)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        src, dst = place(imp.module.name), place(imp.target)
        if imp.module.name == COMPOSITION_ROOT or src is None or dst is None:
            continue
        if src.layer == dst.layer != ENTRY and src.package != dst.package:
            graph.setdefault(src.package, set()).add(dst.package)
    return graph


def _path_back(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """Shortest package path ``start -> ... -> goal`` (breadth first), None if there is none."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while (step := previous[path[-1]]) is not None:
                path.append(step)
            return path[::-1]
        for nxt in sorted(graph.get(node, ())):
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return None


def check_imports(modules: Sequence[Module]) -> list[Finding]:
    """One finding per import statement that points up, or closes a package cycle."""
    imports = collect_imports(modules)
    graph = _sideways_graph(imports)
    findings = []
    for imp in imports:
        finding = _judge(imp, graph)
        if finding is not None:
            findings.append(finding)
    return findings


def _judge(imp: Import, graph: dict[str, set[str]]) -> Finding | None:
    src, dst = place(imp.module.name), place(imp.target)
    if imp.module.name == COMPOSITION_ROOT or src is None or dst is None:
        return None
    if dst.layer < src.layer:
        return _finding(imp, f"up: {src.layer_name} -> {dst.layer_name}", _upward_detail(imp))
    if dst.layer != src.layer or dst.package == src.package or src.layer == ENTRY:
        return None
    back = _path_back(graph, dst.package, src.package)
    if back is None:
        return None
    cycle = " -> ".join([src.package, *back])
    return _finding(imp, f"cycle {cycle}", _cycle_detail(imp, cycle))


def _finding(imp: Import, note: str, detail: str) -> Finding:
    return Finding(
        key=f"{imp.module.name} -> {imp.target}",
        amount=1,
        where=imp.module.where(imp.line),
        detail=detail,
        note=note + (" (lazy)" if imp.lazy else ""),
    )


def _upward_detail(imp: Import) -> str:
    src, dst = place(imp.module.name), place(imp.target)
    assert src is not None and dst is not None
    how = " inside a function" if imp.lazy else ""
    return (
        f"{imp.module.where(imp.line)}: {imp.module.name} ({src.layer_name} layer) imports "
        f"{imp.target} ({dst.layer_name} layer){how}; imports must point down ({ORDER}). "
        f"Move the code down, or {PORT_HINT.format(impl='qianbao.' + dst.package)}."
    )


def _cycle_detail(imp: Import, cycle: str) -> str:
    src = place(imp.module.name)
    assert src is not None
    how = " lazily, inside a function," if imp.lazy else ""
    return (
        f"{imp.module.where(imp.line)}: {imp.module.name} imports {imp.target}{how} closing the "
        f"package cycle {cycle} in the {src.layer_name} layer (a lazy import hides a cycle, it "
        f"does not remove it). Keep one direction; for the other, "
        f"{PORT_HINT.format(impl='the other package')}."
    )
