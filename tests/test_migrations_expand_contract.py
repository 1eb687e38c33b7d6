"""Schema migrations are written expand-then-contract (docs/operations.md, "Rolling upgrade";
docs/decisions/0932-rolling-upgrade-and-expand-contract.md): during a rolling upgrade old and
new code run side by side on one schema, so a release's ``upgrade()`` may only add what the
old code can ignore: new tables, new nullable columns or NOT NULL columns with a server
default, new indexes. Removing or changing what the old code reads or writes (dropping or
renaming a table or column, changing a type, making a column NOT NULL) is a contract step:
it ships in a later release than the code that stopped using it, and its module says so with
``CONTRACT = "<which release stopped using it>"``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

VERSIONS = sorted(
    Path(__file__).parents[1].joinpath("src/qianbao/platform/migrations").glob("*/versions/*.py")
)
DROPS = {"drop_table", "drop_column", "rename_table", "drop_constraint"}
# contract steps written before the rule, each shipped while only one process ran (the
# embedded mode): card numbers off the bank orders, the old token table
BEFORE_THE_RULE = {
    "secb_g0002_data_at_rest.py",
    "secb_0001_no_card_number_on_bank_orders.py",
    "security_g0001_security_sessions_keys_throttle.py",
}


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _contract_steps(upgrade: ast.FunctionDef) -> list[str]:
    found = []
    for node in ast.walk(upgrade):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, line = node.func.attr, f"line {node.lineno}"
        if name in DROPS:
            found.append(f"{line}: {name}")
        elif name == "alter_column" and (
            _keyword(node, "new_column_name") is not None
            or _keyword(node, "type_") is not None
            or _is_false(_keyword(node, "nullable"))
        ):
            found.append(f"{line}: alter_column (rename, new type or NOT NULL)")
        elif name == "add_column":
            for column in (a for a in node.args if isinstance(a, ast.Call)):
                not_null = _is_false(_keyword(column, "nullable"))
                if not_null and _keyword(column, "server_default") is None:
                    found.append(f"{line}: a NOT NULL column without a server default")
        elif name == "execute" and node.args and isinstance(node.args[0], ast.Constant):
            text = str(node.args[0].value).upper()
            if " DROP " in f" {text} " or "RENAME" in text or " TYPE " in text:
                found.append(f"{line}: execute({text[:40]!r})")
    return found


def _upgrade(tree: ast.Module) -> ast.FunctionDef | None:
    return next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None
    )


def _declares_contract(tree: ast.Module) -> bool:
    return any(
        isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "CONTRACT" for t in n.targets)
        for n in tree.body
    )


@pytest.mark.parametrize("path", VERSIONS, ids=lambda p: p.name)
def test_migration_expands_or_says_it_contracts(path: Path) -> None:
    tree = ast.parse(path.read_text())
    upgrade = _upgrade(tree)
    assert upgrade is not None, f"{path.name} has no upgrade()"
    steps = _contract_steps(upgrade)
    if path.name in BEFORE_THE_RULE:
        assert steps, f"{path.name} no longer contracts: take it off BEFORE_THE_RULE"
        return
    assert not steps or _declares_contract(tree), (
        f"{path.name} removes or changes what running code may use ({steps}); ship it as a"
        " contract step after the release that stopped using it, with CONTRACT = '...'"
    )


def test_the_check_finds_a_contract_step() -> None:
    source = (
        "def upgrade():\n"
        "    op.drop_column('payments', 'memo')\n"
        "    with op.batch_alter_table('t') as b:\n"
        "        b.add_column(sa.Column('x', sa.Integer(), nullable=False))\n"
        "        b.add_column(sa.Column('y', sa.Integer(), server_default='0', nullable=False))\n"
        "        b.alter_column('z', new_column_name='w')\n"
    )
    upgrade = _upgrade(ast.parse(source))
    assert upgrade is not None
    steps = _contract_steps(upgrade)
    assert len(steps) == 3, steps
