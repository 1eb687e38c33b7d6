"""What every contract shares: the parsed source tree, a finding, and the walk that keeps track of
the enclosing function.

The contracts read source text and ASTs only; they never import ``qianbao``, so they run in a few
hundred milliseconds and cannot be fooled (or broken) by import-time side effects.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE_ROOT = REPO / "src" / "qianbao"


@dataclass(frozen=True)
class Module:
    """One parsed ``.py`` file of the package."""

    name: str  # dotted import name: "qianbao.credit.service" ("qianbao.credit" for __init__.py)
    rel: str  # path inside the package, the allow-list spelling: "credit/service.py"
    display: str  # path as printed in failures, from the repository root: "src/qianbao/..."
    source: str
    tree: ast.Module

    @property
    def is_package(self) -> bool:
        return self.rel == "__init__.py" or self.rel.endswith("/__init__.py")

    def where(self, line: int) -> str:
        """``file:line``, the form editors and terminals turn into a link."""
        return f"{self.display}:{line}"


@dataclass(frozen=True)
class Finding:
    """One occurrence of a rule being broken.

    ``key`` is the allow-list entry it falls under; ``amount`` is what the ratchet compares: a size
    in lines for the length contracts, 1 (one occurrence) for the counting contracts.
    """

    key: str
    amount: int
    where: str
    detail: str
    note: str = ""  # a short comment written beside the allow-list entry


def load_modules(root: Path) -> tuple[Module, ...]:
    """Parse every ``.py`` file under ``root`` (the ``qianbao`` package directory), sorted."""
    base = root.parent.parent
    modules = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        source = path.read_text(encoding="utf-8")
        modules.append(
            Module(
                name=_dotted(root.name, rel),
                rel=rel,
                display=path.relative_to(base).as_posix(),
                source=source,
                tree=ast.parse(source, filename=str(path)),
            )
        )
    return tuple(modules)


@lru_cache(maxsize=1)
def real_modules() -> tuple[Module, ...]:
    """Today's tree, parsed once per process (every real-tree test shares it)."""
    return load_modules(PACKAGE_ROOT)


@lru_cache(maxsize=512)
def nodes(module: Module) -> tuple[ast.AST, ...]:
    """Every node of the module's tree (``ast.walk`` once; several contracts scan it)."""
    return tuple(ast.walk(module.tree))


def _dotted(package: str, rel: str) -> str:
    parts = [package, *rel.removesuffix(".py").split("/")]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def docstring_node(node: ast.AST) -> ast.Expr | None:
    """The docstring statement of a module, class or function, if it has one."""
    body = getattr(node, "body", None)
    if not isinstance(body, list) or not body:
        return None
    first = body[0]
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)):
        return None
    return first if isinstance(first.value.value, str) else None


FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


class ScopedVisitor(ast.NodeVisitor):
    """A visitor that knows the qualified name of the class/function it is in (``A.b.c``)."""

    def __init__(self) -> None:
        self.scope: list[str] = []
        self.functions: list[FunctionNode] = []

    @property
    def qualname(self) -> str:
        return ".".join(self.scope) or "<module>"

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._enter_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._enter_function(node)

    def _enter_function(self, node: FunctionNode) -> None:
        self.scope.append(node.name)
        self.functions.append(node)
        self.on_function(node)
        self.generic_visit(node)
        self.functions.pop()
        self.scope.pop()

    def on_function(self, node: FunctionNode) -> None:
        """Hook for subclasses: called on entering each function, before its body."""


def string_value(node: ast.AST) -> str | None:
    """The text of a string expression: a literal, an f-string (each ``{...}`` read as ``{}``),
    or a ``+`` of strings (a non-string operand read as ``{}``). None if ``node`` is no string."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = string_value(node.left), string_value(node.right)
        if left is None and right is None:
            return None
        return (left if left is not None else "{}") + (right if right is not None else "{}")
    return None
