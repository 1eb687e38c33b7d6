"""Contracts 2 and 3: functions and modules stay short enough to read in one sitting.

A function is measured from its ``def`` line (decorators not counted) to the last line of its
body, minus its docstring: ``end_lineno - lineno + 1 - docstring lines``. Nested functions and
methods are measured on their own (and also count inside the function that holds them). A module is
measured in physical lines, docstrings and comments included.
"""

from __future__ import annotations

from collections.abc import Sequence

from tests.tidy.core import Finding, FunctionNode, Module, ScopedVisitor, docstring_node

FUNCTION_MAX_LINES = 70  # TigerBeetle's red zone
MODULE_MAX_LINES = 800
# Alembic revisions are history: they are never edited after release, so splitting one buys nothing.
FROZEN_DIRS = ("migrations", "versions")


def is_frozen(rel: str) -> bool:
    """An Alembic revision file (``.../migrations/<db>/versions/*.py``)."""
    parts = rel.split("/")[:-1]
    return all(name in parts for name in FROZEN_DIRS)


def function_lines(node: FunctionNode) -> int:
    """The measured length of one function (see the module docstring)."""
    assert node.end_lineno is not None
    length = node.end_lineno - node.lineno + 1
    doc = docstring_node(node)
    if doc is not None and doc.end_lineno is not None:
        length -= doc.end_lineno - doc.lineno + 1
    return length


class _LongFunctions(ScopedVisitor):
    def __init__(self, module: Module) -> None:
        super().__init__()
        self.module = module
        self.found: list[Finding] = []

    def on_function(self, node: FunctionNode) -> None:
        length = function_lines(node)
        if length > FUNCTION_MAX_LINES:
            self.found.append(
                Finding(
                    key=f"{self.module.rel}::{self.qualname}",
                    amount=length,
                    where=self.module.where(node.lineno),
                    detail=(
                        f"{self.module.where(node.lineno)}: {self.qualname} is {length} lines "
                        f"(limit {FUNCTION_MAX_LINES}, docstring not counted); split it into "
                        "named steps (prepare / decide / persist) or move pure arithmetic into "
                        "the package's model"
                    ),
                )
            )


def check_function_length(modules: Sequence[Module]) -> list[Finding]:
    """One finding per function or method longer than FUNCTION_MAX_LINES."""
    found: list[Finding] = []
    for module in modules:
        if is_frozen(module.rel):
            continue
        visitor = _LongFunctions(module)
        visitor.visit(module.tree)
        found.extend(visitor.found)
    return found


def check_module_length(modules: Sequence[Module]) -> list[Finding]:
    """One finding per module longer than MODULE_MAX_LINES."""
    found = []
    for module in modules:
        length = len(module.source.splitlines())
        if length > MODULE_MAX_LINES:
            found.append(
                Finding(
                    key=module.rel,
                    amount=length,
                    where=module.where(1),
                    detail=(
                        f"{module.display} is {length} lines (limit {MODULE_MAX_LINES}); split "
                        "it into a subpackage with one module per use case, the pure model "
                        "beside them and the SQL in store.py"
                    ),
                )
            )
    return found
