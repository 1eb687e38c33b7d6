"""Contracts 4, 5 and 6, read from string literals: raw status writes, SQL outside a store, and
error codes outside ``errors.py``.

Only strings the program can use are read: docstrings and other bare string statements are
skipped, so prose such as "update the status" never counts. A string is read whole: implicit
concatenation is one literal already, f-strings and ``+`` are joined with ``{}`` for the holes.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import PurePosixPath

from tests.tidy.core import Finding, Module, ScopedVisitor, nodes, string_value

STATE_MODULE = "platform/states.py"  # the one module allowed to write a status column
# Statuses a row of a table with no declared starting states may be born in (an INSERT may
# hard-code these); anything else is a transition that skipped the state machine.
# (PREPARED: an outbox message; BOUND: a bank card; SENT: a channel request.) A table whose
# machine declares ``StateMachine(..., initial={...})`` may be born only in those states: that is
# how a row recorded already finished ('SUCCEEDED', inside its paying command) is declared.
INITIAL_STATUSES = frozenset(
    {"PENDING", "PREPARED", "OPEN", "NEW", "CREATED", "SENT", "ACTIVE", "AVAILABLE", "BOUND"}
    | {"HELD", "WAIT_BUYER_PAY"}
)
SQL_METHODS = frozenset({"execute", "executemany", "one", "all", "scalar"})
SQL_HOMES = frozenset({"store.py", "queries.py", "tables.py"})  # files where SQL belongs
SQL_HOME_DIRS = frozenset({"store", "queries", "migrations"})  # ...and packages of them
ERRORS_MODULE = "errors.py"
EXCEPTION_ROOTS = frozenset({"Exception", "BaseException"})

_UPDATE_SET = re.compile(
    r"\bUPDATE\s+(?:(?P<table>[\w.\"{}]+)\s+)?SET\s+(?P<sets>.*?)(?=\bWHERE\b|\bRETURNING\b|;|$)",
    re.IGNORECASE | re.DOTALL,
)  # also "ON CONFLICT ... DO UPDATE SET"
_INSERT_INTO = re.compile(
    r"\bINSERT\s+(?:OR\s+\w+\s+)?INTO\s+(?P<table>[\w.\"{}]+)\s*(?=\()", re.IGNORECASE | re.DOTALL
)
_ASSIGNED_COLUMN = re.compile(r"\s*\"?(\w+)\"?\s*=")
_SQL_START = re.compile(r"\s*\(?\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)
_SQL_VERB = re.compile(r"\s*\(?\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\s")  # case-sensitive


class _Strings(ScopedVisitor):
    """Collects (node, text, enclosing qualname) for every string expression that is used."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[ast.expr, str, str]] = []

    def visit_Expr(self, node: ast.Expr) -> None:
        if string_value(node.value) is None:  # a bare string is a docstring or a comment
            self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        self._take(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        self._take(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if not self._take(node):
            self.generic_visit(node)

    def _take(self, node: ast.expr) -> bool:
        text = string_value(node)
        if text is None:
            return False
        self.found.append((node, text, self.qualname))
        return True


@lru_cache(maxsize=512)
def used_strings(module: Module) -> tuple[tuple[ast.expr, str, str], ...]:
    """(node, text, enclosing qualname) of every used string; cached, two contracts read it."""
    visitor = _Strings()
    visitor.visit(module.tree)
    return tuple(visitor.found)


def split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses and quotes: ``a = 1, b = f(x, y)`` -> 2 parts."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and depth == 0 and char == ",":
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _group(text: str, start: int) -> tuple[str, int] | None:
    """The balanced ``(...)`` group opening at ``text[start]``: (its inside, index after it)."""
    depth, quoted = 0, False
    for i in range(start, len(text)):
        char = text[i]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
    return None


def status_updates(sql: str) -> list[str]:
    """The tables whose ``UPDATE ... SET`` list in ``sql`` assigns the ``status`` column (an
    upsert's ``DO UPDATE SET`` names no table: "?")."""
    tables = []
    for match in _UPDATE_SET.finditer(sql):
        columns = [_ASSIGNED_COLUMN.match(part) for part in split_top_level(match["sets"])]
        if any(c is not None and c.group(1).lower() == "status" for c in columns):
            tables.append(match["table"] or "?")
    return tables


def _value_rows(sql: str, at: int) -> Iterator[list[str]]:
    """The value tuples of ``VALUES (...), (...)`` starting at ``sql[at:]``."""
    rest = re.match(r"\s*VALUES\s*", sql[at:], re.IGNORECASE)
    if rest is None:
        return
    at += rest.end()
    while at < len(sql) and sql[at] == "(" and (group := _group(sql, at)) is not None:
        yield split_top_level(group[0])
        after = re.match(r"\s*,\s*", sql[group[1] :])
        at = group[1] + (after.end() if after else 0)


def status_inserts(sql: str, declared: Mapping[str, frozenset[str]] | None = None) -> list[str]:
    """Non-initial statuses hard-coded as literals in the ``status`` column of an INSERT: not a
    declared starting state of the table's machine (``declared``: table -> states), or, for a
    table with none declared, not one of ``INITIAL_STATUSES``."""
    born_late = []
    for match in _INSERT_INTO.finditer(sql):
        allowed = (declared or {}).get(match["table"].strip('"'), INITIAL_STATUSES)
        columns = _group(sql, match.end())
        if columns is None:
            continue
        names = [c.strip().strip('"').lower() for c in split_top_level(columns[0])]
        if "status" not in names:
            continue
        index = names.index("status")
        for row in _value_rows(sql, columns[1]):
            value = row[index].strip() if index < len(row) else ""
            literal = re.fullmatch(r"'(\w+)'", value)
            if literal and literal.group(1) not in allowed:
                born_late.append(literal.group(1))
    return born_late


def check_status_writes(modules: Sequence[Module]) -> list[Finding]:
    """One finding per raw status write outside platform/states.py."""
    declared = starting_states(modules)
    found = []
    for module in modules:
        if module.rel == STATE_MODULE:
            continue
        for node, text, qualname in used_strings(module):
            for table in status_updates(text):
                found.append(_status_finding(module, node, qualname, f"UPDATE {table}"))
            for status in status_inserts(text, declared):
                found.append(_status_finding(module, node, qualname, f"INSERT as '{status}'"))
    return found


def starting_states(modules: Sequence[Module]) -> dict[str, frozenset[str]]:
    """Table -> the starting states its machines declare: ``StateMachine(name, "table", {...},
    initial={"A", B})``, each state a string literal or a module-level name bound to one (here
    or imported from a module of the tree). A state the checker cannot read is not declared."""
    strings = {module.name: _module_strings(module.tree) for module in modules}
    declared: dict[str, frozenset[str]] = {}
    for module in modules:
        names = {**_imported_strings(module.tree, strings), **strings[module.name]}
        for node in nodes(module):
            if isinstance(node, ast.Call) and _callee(node) == "StateMachine":
                table, states = _machine_declaration(node, names)
                if table is not None and states:
                    declared[table] = declared.get(table, frozenset()) | states
    return declared


def _machine_declaration(
    call: ast.Call, names: Mapping[str, str]
) -> tuple[str | None, frozenset[str]]:
    """(table, declared starting states) of one ``StateMachine(...)`` call."""
    keywords = {kw.arg: kw.value for kw in call.keywords}
    table_node = call.args[1] if len(call.args) > 1 else keywords.get("table")
    table = string_value(table_node) if table_node is not None else None
    initial = keywords.get("initial")
    if isinstance(initial, ast.Call) and initial.args:  # frozenset({...})
        initial = initial.args[0]
    elements = initial.elts if isinstance(initial, ast.Set | ast.List | ast.Tuple) else []
    states = {_state_text(e, names) for e in elements}
    return table, frozenset(s for s in states if s is not None)


def _state_text(node: ast.expr, names: Mapping[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return names.get(node.id)
    return string_value(node)


def _module_strings(tree: ast.Module) -> dict[str, str]:
    """Module-level ``X = "..."`` and ``A, B = "a", "b"`` bindings."""
    names: dict[str, str] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target, value = node.targets[0], node.value
        pairs = (
            zip(target.elts, value.elts, strict=False)
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple)
            else [(target, value)]
        )
        for name, text in pairs:
            if isinstance(name, ast.Name) and (string := string_value(text)) is not None:
                names[name.id] = string
    return names


def _imported_strings(tree: ast.Module, strings: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Names a module imports (``from qianbao.x import A as B``) bound to strings there."""
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module in strings:
            source = strings[node.module]
            for alias in node.names:
                if alias.name in source:
                    names[alias.asname or alias.name] = source[alias.name]
    return names


def _status_finding(module: Module, node: ast.expr, qualname: str, note: str) -> Finding:
    where = module.where(node.lineno)
    if note.startswith("INSERT"):
        what = (
            f"inserts a row {note[7:]}; insert it in a starting state its machine declares "
            "(StateMachine(..., initial=...), src/qianbao/platform/states.py) or move it there"
        )
    else:
        what = (
            f"writes a status column in raw SQL ({note}); move the row with StateMachine.move "
            "in src/qianbao/platform/states.py (declare the transition in the package's table)"
        )
    return Finding(
        key=f"{module.rel}::{qualname}",
        amount=1,
        where=where,
        detail=f"{where}: {qualname} {what}",
        note=note,
    )


def _is_sql_home(rel: str) -> bool:
    path = PurePosixPath(rel)
    return (
        path.name in SQL_HOMES
        or path.parts[0] == "platform"
        or any(part in SQL_HOME_DIRS for part in path.parts[:-1])
    )


class _SqlCalls(ScopedVisitor):
    """Finds ``x.execute/executemany/one/all/scalar(sql, ...)`` whose ``sql`` (a literal, a
    ``sa.text(...)`` of one, or a local/module name bound to one) starts with a statement verb."""

    def __init__(self, module: Module) -> None:
        super().__init__()
        self.names: list[dict[str, ast.expr]] = [_string_names(module.tree)]
        self.found: list[tuple[ast.expr, str]] = []  # (the SQL string node, enclosing qualname)

    def _enter_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.names.append({**self.names[-1], **_string_names(node)})
        super()._enter_function(node)
        self.names.pop()

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in SQL_METHODS and node.args:
            sql = self._sql_node(node.args[0])
            text = string_value(sql) if sql is not None else None
            if sql is not None and text is not None and _SQL_START.match(text):
                self.found.append((sql, self.qualname))
        self.generic_visit(node)

    def _sql_node(self, arg: ast.expr) -> ast.expr | None:
        if isinstance(arg, ast.Name):
            return self.names[-1].get(arg.id)
        if isinstance(arg, ast.Call) and arg.args:  # sa.text("SELECT ...")
            return arg.args[0]
        return arg


def _string_names(scope: ast.AST) -> dict[str, ast.expr]:
    """``name = "..."`` assignments in ``scope`` itself (not in the functions it defines)."""
    names = {}
    pending: list[ast.AST] = list(getattr(scope, "body", []))
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and string_value(node.value) is not None:
                names[target.id] = node.value
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            pending.extend(ast.iter_child_nodes(node))
    return names


def sql_statements(module: Module) -> list[tuple[ast.expr, str]]:
    """The SQL statements of a module, each once: strings executed by a Tx method, and any other
    used string that opens with an upper-case verb and a space (SQL handed to a helper such as
    ``_users(p, unit, "SELECT ...")``). Upper case only there, so prose never counts."""
    visitor = _SqlCalls(module)
    visitor.visit(module.tree)
    chosen = {id(node): (node, qualname) for node, qualname in visitor.found}
    for node, text, qualname in used_strings(module):
        if _SQL_VERB.match(text):
            chosen.setdefault(id(node), (node, qualname))
    return sorted(chosen.values(), key=lambda pair: (pair[0].lineno, pair[0].col_offset))


def check_sql_location(modules: Sequence[Module]) -> list[Finding]:
    """One finding per SQL statement outside store/queries/tables, migrations and platform/."""
    found = []
    for module in modules:
        if _is_sql_home(module.rel):
            continue
        for node, qualname in sql_statements(module):
            where = module.where(node.lineno)
            verb = (string_value(node) or "SQL").split()[0].lstrip("(").upper()
            detail = (
                f"{where}: {verb} in {qualname}, outside a store; move it into the package's "
                "store.py (or queries.py for reads) behind a named function"
            )
            found.append(Finding(key=module.rel, amount=1, where=where, detail=detail))
    return found


def check_error_codes(modules: Sequence[Module]) -> list[Finding]:
    """One finding per ``code="LITERAL"`` keyword argument outside an ``errors.py``, except in
    calls to the tree's own non-exception classes (``Reason(code="CARD:AGE")`` is data)."""
    data_classes = non_exception_classes(modules)
    found: list[Finding] = []
    for module in modules:
        if PurePosixPath(module.rel).name == ERRORS_MODULE:
            continue
        for node in nodes(module):
            if isinstance(node, ast.Call) and _callee(node) not in data_classes:
                found.extend(_code_findings(module, node))
    return found


def _callee(call: ast.Call) -> str:
    return _name(call.func)


def _name(node: ast.expr) -> str:
    """``X`` for ``X`` and ``a.b.X``; empty for anything else."""
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def non_exception_classes(modules: Sequence[Module]) -> frozenset[str]:
    """Names of classes defined in the tree that do not derive (by base name, transitively)
    from an exception. A call to a class defined elsewhere counts as an error."""
    bases: dict[str, set[str]] = {}
    for module in modules:
        for node in nodes(module):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(_name(b) for b in node.bases)
    errors = {n for n in bases if n.endswith(("Error", "Exception"))} | EXCEPTION_ROOTS
    grew = True
    while grew:  # fixed point: a class is an exception if one of its bases is
        new = {n for n, b in bases.items() if n not in errors and b & errors}
        errors |= new
        grew = bool(new)
    return frozenset(bases) - errors


def _code_findings(module: Module, call: ast.Call) -> Iterator[Finding]:
    for kw in call.keywords:
        text = string_value(kw.value) if kw.arg == "code" else None
        if text is None:  # code=SomeErrors.X (a name) is the goal, not a finding
            continue
        package = module.rel.split("/")[0] if "/" in module.rel else "platform"
        where = module.where(call.lineno)
        yield Finding(
            key=module.rel,
            amount=1,
            where=where,
            detail=(
                f'{where}: code="{text}" is a string literal; add the code to the enum in '
                f"{package}/errors.py and raise with it, so every code is listed in one place"
            ),
        )
