"""Each contract, run on a tiny tree written to tmp_path, catches the violation it exists for,
keeps quiet about normal code, and ratchets: only down.

A contract that cannot fail proves nothing; these tests are the proof that the real-tree tests in
test_contracts.py would go red.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.tidy.contracts import CONTRACTS, TIGHTEN, ratchet, read_allowlist, write_lists
from tests.tidy.core import Module, load_modules
from tests.tidy.layers import unplaced

BY_NAME = {c.name: c for c in CONTRACTS}


def tree(tmp_path: Path, files: dict[str, str]) -> tuple[Module, ...]:
    """Write ``files`` (path inside the package -> source) as src/qianbao/... and parse them."""
    root = tmp_path / "src" / "qianbao"
    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return load_modules(root)


def problems(
    name: str, modules: tuple[Module, ...], allowed: dict[str, int] | None = None
) -> list[str]:
    contract = BY_NAME[name]
    return ratchet(contract, contract.check(modules), allowed or {})


def keys(name: str, modules: tuple[Module, ...]) -> list[str]:
    return sorted(f.key for f in BY_NAME[name].check(modules))


# --- 1. import layering -----------------------------------------------------------------------


def test_a_reversed_lazy_import_is_reported_with_file_line_layers_and_the_fix(tmp_path):
    modules = tree(
        tmp_path,
        {
            "platform/clock.py": """
                def now():
                    from qianbao.payments.service import pay
                    return pay
            """
        },
    )
    [message] = problems("imports", modules)
    assert "qianbao.platform.clock -> qianbao.payments.service: new violation" in message
    assert "src/qianbao/platform/clock.py:2" in message
    assert "(platform layer)" in message and "(use case layer)" in message
    assert "inside a function" in message
    assert "port" in message and "src/qianbao/bootstrap.py" in message


def test_downward_package_and_composition_root_imports_pass(tmp_path):
    modules = tree(
        tmp_path,
        {
            "payments/__init__.py": "",
            "payments/tables.py": "",
            "payments/service.py": """
                from . import tables
                from qianbao.ledger import service
                import qianbao.platform.db
                from qianbao.money_movement.pay import pay  # the engine may not exist yet
            """,
            "ledger/service.py": "from qianbao.members import service\n",
            "credit/cli.py": "from qianbao.credit import service\nimport qianbao.api.app\n",
            "api/app.py": "from qianbao.bootstrap import open_platform\n",
            "bootstrap.py": "import qianbao.api.app\nimport qianbao.credit.cli\n",
        },
    )
    assert keys("imports", modules) == []


def test_type_checking_imports_are_exempt_but_their_else_branch_counts(tmp_path):
    modules = tree(
        tmp_path,
        {
            "ledger/post.py": """
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from qianbao.payments.trades import Trade
                else:
                    from qianbao.credit.service import Line
            """
        },
    )
    assert keys("imports", modules) == ["qianbao.ledger.post -> qianbao.credit.service"]


def test_a_package_cycle_hidden_by_a_lazy_import_is_reported_both_ways(tmp_path):
    modules = tree(
        tmp_path,
        {
            "payments/trades.py": "from qianbao.credit import service\n",
            "credit/service.py": """
                def charge():
                    from qianbao.payments import trades
            """,
            "marketing/service.py": "import qianbao.payments.trades  # one way only: fine\n",
        },
    )
    found = problems("imports", modules)
    assert keys("imports", modules) == [
        "qianbao.credit.service -> qianbao.payments.trades",
        "qianbao.payments.trades -> qianbao.credit.service",
    ]
    assert any("package cycle credit -> payments -> credit" in p for p in found)
    assert any("src/qianbao/credit/service.py:2" in p and "lazily" in p for p in found)


def test_money_movement_sits_below_the_use_cases_and_above_the_ledger(tmp_path):
    modules = tree(
        tmp_path,
        {
            "money_movement/pay.py": """
                from qianbao.ledger import post
                from qianbao.credit import funding
            """,
            "credit/funding.py": "from qianbao.money_movement import ports\n",
            "ledger/post.py": "from ..money_movement import pay\n",  # relative, still upward
        },
    )
    assert keys("imports", modules) == [
        "qianbao.ledger.post -> qianbao.money_movement.pay",
        "qianbao.money_movement.pay -> qianbao.credit.funding",
    ]


def test_cli_modules_are_entry_points_even_inside_a_use_case_package(tmp_path):
    modules = tree(
        tmp_path,
        {
            "credit/cli.py": "",
            "credit/service.py": """
                import importlib
                from qianbao.credit import cli
                api = importlib.import_module("qianbao.api.app")
            """,
        },
    )
    assert keys("imports", modules) == [
        "qianbao.credit.service -> qianbao.api.app",
        "qianbao.credit.service -> qianbao.credit.cli",
    ]


SCHEMA_TO_CREDIT = "qianbao.platform.schema -> qianbao.credit.tables"


def test_only_entry_points_may_import_the_composition_root(tmp_path):
    modules = tree(
        tmp_path,
        {
            "bootstrap.py": "import qianbao.payments.service\n",
            "server.py": "from qianbao import bootstrap\n",
            "payments/service.py": "def pay():\n    from qianbao import bootstrap\n",
        },
    )
    assert keys("imports", modules) == ["qianbao.payments.service -> qianbao.bootstrap"]


def test_an_import_exception_that_no_longer_occurs_must_be_removed(tmp_path):
    modules = tree(tmp_path, {"platform/schema.py": "import sqlalchemy\n"})
    [message] = problems("imports", modules, {SCHEMA_TO_CREDIT: 1})
    assert "remove this stale exception" in message and TIGHTEN in message


def test_a_listed_import_edge_may_not_gain_statements(tmp_path):
    lazy = "    import qianbao.credit.tables\n"
    modules = tree(tmp_path, {"platform/schema.py": f"def a():\n{lazy}\n\ndef b():\n{lazy}"})
    [message] = problems("imports", modules, {SCHEMA_TO_CREDIT: 1})
    assert "2, the list allows 1: an exception may only shrink" in message


def test_a_package_in_no_layer_is_reported(tmp_path):
    modules = tree(tmp_path, {"gadgets/service.py": "", "__init__.py": ""})
    [message] = unplaced(modules)
    assert "qianbao.gadgets is in no layer" in message


# --- 2 and 3. function and module length --------------------------------------------------------


def function(name: str, body_lines: int, docstring_lines: int = 0, indent: str = "") -> str:
    """A function of ``1 + body_lines`` measured lines, plus a docstring of that many lines."""
    doc = [f'{indent}    """'] + [f"{indent}    x"] * (docstring_lines - 2) + [f'{indent}    """']
    body = [f"{indent}    x = {i}" for i in range(body_lines)]
    return "\n".join([f"{indent}def {name}():", *(doc if docstring_lines else []), *body]) + "\n"


def test_a_function_over_70_lines_is_reported_and_70_passes(tmp_path):
    source = (
        function("fits", 69, docstring_lines=10)
        + "@decorator\n"
        + function("too_long", 70)
        + "class Cls:\n"
        + function("method", 80, indent="    ")
    )
    modules = tree(tmp_path, {"payments/trades.py": source})
    found = problems("function_length", modules)
    assert keys("function_length", modules) == [
        "payments/trades.py::Cls.method",
        "payments/trades.py::too_long",
    ]
    assert any("src/qianbao/payments/trades.py:82" in p and "71 lines" in p for p in found)


def test_a_listed_long_function_may_shrink_only_and_must_leave_the_list_when_short(tmp_path):
    modules = tree(tmp_path, {"credit/service.py": function("bill_user", 90)})
    grew = problems("function_length", modules, {"credit/service.py::bill_user": 85})
    shrank = problems("function_length", modules, {"credit/service.py::bill_user": 95})
    short = tree(tmp_path / "later", {"credit/service.py": function("bill_user", 40)})
    fixed = problems("function_length", short, {"credit/service.py::bill_user": 95})
    assert "91, the list allows 85: an exception may only shrink" in grew[0]
    assert "lower the entry to 91" in shrank[0]
    assert "remove from the list" in fixed[0] and TIGHTEN in fixed[0]


def test_alembic_revisions_are_exempt_from_the_function_limit(tmp_path):
    rel = "platform/migrations/unit/versions/0001_initial.py"
    modules = tree(tmp_path, {rel: function("upgrade", 200)})
    assert keys("function_length", modules) == []


def test_a_module_over_800_lines_is_reported_and_800_passes(tmp_path):
    modules = tree(tmp_path, {"a/fits.py": "x = 1\n" * 800, "a/big.py": "x = 1\n" * 801})
    [message] = problems("module_length", modules)
    assert message.startswith("a/big.py: new violation (801)")


# --- 4. status writes ---------------------------------------------------------------------------

STATUS_WRITES = """
def close(tx, table):
    tx.execute("UPDATE trades SET status = :s, updated_at_ms = :now WHERE id = :id")
    tx.execute(
        "update credit_plans set paid_fen = coalesce(paid_fen, 0),"
        " status = 'COMPLETED' where id = :id"
    )
    tx.execute(f"UPDATE {table} SET closed_at_ms = :now, status = :s WHERE id = :id")
    tx.execute(
        "INSERT INTO refunds (id, amount_fen, status) VALUES (:id, :a, 'SUCCEEDED')"
        " ON CONFLICT (id) DO UPDATE SET status = excluded.status"
    )
"""

STATUS_READS = '''
"""Module docstring: UPDATE trades SET status = 'PAID' is what the state machine does."""


def fine(tx, status):
    """Update the status of the trade (prose, not SQL)."""
    tx.all("SELECT status FROM trades WHERE status = :s AND id = :id", {"s": status})
    tx.execute("UPDATE trades SET notify_status = :n WHERE status = :s")
    tx.execute("INSERT INTO trades (id, status) VALUES (:id, 'PENDING'), (:id2, :status)")
    log.info("status = %s", status)
'''


def test_raw_status_writes_are_reported_by_function(tmp_path):
    modules = tree(tmp_path, {"payments/trades.py": STATUS_WRITES})
    found = BY_NAME["status_writes"].check(modules)
    assert {f.key for f in found} == {"payments/trades.py::close"}
    assert sorted(f.note for f in found) == [
        "INSERT as 'SUCCEEDED'",
        "UPDATE ?",  # the upsert
        "UPDATE credit_plans",
        "UPDATE trades",
        "UPDATE {}",  # the f-string
    ]
    assert "StateMachine.move" in found[0].detail and "trades.py:2" in found[0].where


def test_status_reads_prose_and_the_state_machine_itself_are_not_writes(tmp_path):
    modules = tree(
        tmp_path,
        {"payments/trades.py": STATUS_READS, "platform/states.py": STATUS_WRITES},
    )
    assert keys("status_writes", modules) == []


def test_status_write_counts_ratchet(tmp_path):
    modules = tree(tmp_path, {"payments/trades.py": STATUS_WRITES})
    [message] = problems("status_writes", modules, {"payments/trades.py::close": 6})
    assert "now 5, the list allows 6: lower the entry to 5" in message


STARTING_STATES = """
from qianbao.payments.base import DONE as END

SUCCEEDED = "SUCCEEDED"
REFUND = StateMachine("refund", "refunds", {SUCCEEDED: {"REVERSED"}}, initial={SUCCEEDED})
TRANSFER = StateMachine("transfer", table="transfers", transitions={}, initial=frozenset({END}))


def record(tx):
    tx.execute("INSERT INTO refunds (id, status) VALUES (:id, 'SUCCEEDED')")
    tx.execute("INSERT INTO transfers (id, status) VALUES (:id, 'DONE')")


def skipped(tx):
    tx.execute("INSERT INTO refunds (id, status) VALUES (:id, 'REVERSED')")
    tx.execute("INSERT INTO refunds (id, status) VALUES (:id, 'PENDING')")
    tx.execute("INSERT INTO payments (id, status) VALUES (:id, 'SUCCEEDED')")
"""


def test_an_insert_in_a_declared_starting_state_passes_and_any_other_is_reported(tmp_path):
    files = {"payments/refunds.py": STARTING_STATES, "payments/base.py": 'DONE, X = "DONE", 1\n'}
    modules = tree(tmp_path, files)
    found = BY_NAME["status_writes"].check(modules)
    assert {f.key for f in found} == {"payments/refunds.py::skipped"}
    # REVERSED is no starting state; PENDING is a generic one, but refunds declares its own;
    # payments declares none, so SUCCEEDED is a transition there
    assert sorted(f.note for f in found) == [
        "INSERT as 'PENDING'",
        "INSERT as 'REVERSED'",
        "INSERT as 'SUCCEEDED'",
    ]
    assert "initial=" in found[0].detail


# --- 5. SQL location ----------------------------------------------------------------------------

SQL_IN_SERVICE = """
ORDERS = "SELECT id FROM orders WHERE user_id = :u"


def load(tx, p, where):
    sql = "delete from holds where id = :id"
    tx.all(ORDERS, {"u": 1})
    tx.execute(sql)
    tx.one(f"SELECT * FROM trades WHERE {where}")
    _users(p, "WITH due AS (SELECT 1) SELECT * FROM due")
    tx.execute(sa.text("select 1"))
    names.all()
    log.info("Select a card, then update it")
    tx.execute("PRAGMA journal_mode=WAL")
"""


def test_sql_outside_a_store_is_counted_per_module(tmp_path):
    modules = tree(
        tmp_path,
        {
            "payments/service.py": SQL_IN_SERVICE,
            "payments/store.py": SQL_IN_SERVICE,
            "credit/store/lines.py": SQL_IN_SERVICE,
            "ledger/queries.py": SQL_IN_SERVICE,
            "platform/outbox.py": SQL_IN_SERVICE,
        },
    )
    assert keys("sql_location", modules) == ["payments/service.py"] * 5
    [message] = problems("sql_location", modules, {"payments/service.py": 4})
    assert "5, the list allows 4" in message and "store.py" in message
    [message] = problems("sql_location", modules, {"payments/service.py": 6})
    assert "lower the entry to 5" in message


def test_a_module_not_listed_may_have_no_sql(tmp_path):
    modules = tree(tmp_path, {"web/pages.py": 'def page(tx):\n    return tx.all("SELECT 1")\n'})
    [message] = problems("sql_location", modules)
    assert message.startswith("web/pages.py: new violation (1)")
    assert "src/qianbao/web/pages.py:2: SELECT in page" in message


# --- 6. error codes -----------------------------------------------------------------------------

CODES = """
class Reason:  # scoring's reason codes are data, not errors
    code: str


class TradeError(QianbaoError):
    pass


def fail(name, e):
    reasons = [Reason(code="CARD:AGE")]
    raise TradeError("no", code="TRADE_HAS_CLOSED")
    raise InvalidArgument("no", code="TRADE_CLOSED")
    raise InvalidArgument("no", code="MISSING_" + name.upper())
    raise InvalidArgument("no", code=PaymentsError.TRADE_CLOSED)
    return {"code": e.code}
"""


def test_error_code_literals_outside_errors_modules_are_counted(tmp_path):
    modules = tree(tmp_path, {"payments/trades.py": CODES, "payments/errors.py": CODES})
    assert keys("error_codes", modules) == ["payments/trades.py"] * 3
    [message] = problems("error_codes", modules)
    assert 'code="TRADE_CLOSED"' in message and "payments/errors.py" in message


# --- the regeneration command --------------------------------------------------------------------


def test_tighten_drops_stale_entries_and_lowers_numbers_but_never_accepts_new_ones(tmp_path):
    modules = tree(
        tmp_path,
        {
            "payments/service.py": SQL_IN_SERVICE,  # 5 statements
            "members/service.py": 'def f(tx):\n    tx.all("SELECT 1")\n',  # new, unlisted
        },
    )
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "sql_location.txt").write_text(
        "# a hand-edited list\npayments/service.py  9\ncredit/service.py  80  # gone\n"
    )
    remaining = write_lists(modules, lists, accept_new=False)
    assert read_allowlist(lists / "sql_location.txt") == {"payments/service.py": 5}
    assert [p.splitlines()[0] for p in remaining] == ["members/service.py: new violation (1)"]
    write_lists(modules, lists, accept_new=True)
    accepted = read_allowlist(lists / "sql_location.txt")
    assert accepted == {"members/service.py": 1, "payments/service.py": 5}
