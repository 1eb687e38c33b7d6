"""platform.states: key columns, tables without a stamp, bulk moves, refusals, starting states.

Fast: one SQLite file and one table, no platform.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qianbao.platform.db import Database, Tx
from qianbao.platform.errors import Conflict, InvalidTransition
from qianbao.platform.states import StateMachine

PERIOD = StateMachine(
    "period",
    "periods",
    {"PENDING": {"BILLED", "SETTLED"}, "LATE": {"SETTLED"}},
    key=("plan_id", "number"),
    stamp=None,
    initial={"PENDING"},
)
ACCOUNT = StateMachine(
    "account", "accounts", {"ACTIVE": {"FROZEN"}}, key="user_id", initial={"ACTIVE", "FROZEN"}
)


@pytest.fixture
def tx(tmp_path: Path) -> Iterator[Tx]:
    db = Database(f"sqlite:///{tmp_path / 'states.db'}")
    with db.transaction() as tx:
        tx.execute(
            "CREATE TABLE periods (plan_id TEXT, number INTEGER, status TEXT, statement_id TEXT,"
            " PRIMARY KEY (plan_id, number))"
        )
        tx.execute(
            "CREATE TABLE accounts (user_id TEXT PRIMARY KEY, status TEXT, updated_at_ms INT)"
        )
        for plan, number, status in [("p", 1, "PENDING"), ("p", 2, "PENDING"), ("p", 3, "LATE")]:
            tx.execute(
                "INSERT INTO periods (plan_id, number, status) VALUES (:p, :n, :s)",
                {"p": plan, "n": number, "s": status},
            )
        tx.execute("INSERT INTO periods (plan_id, number, status) VALUES ('q', 1, 'PENDING')")
        tx.execute("INSERT INTO accounts VALUES ('u1', 'ACTIVE', 0)")
        yield tx


def _statuses(tx: Tx) -> dict[tuple[str, int], str]:
    rows = tx.all("SELECT plan_id, number, status FROM periods")
    return {(r["plan_id"], r["number"]): r["status"] for r in rows}


def test_a_composite_key_moves_one_row_in_a_table_without_a_stamp(tx: Tx) -> None:
    PERIOD.move(tx, ("p", 2), "PENDING", "BILLED", statement_id="s1")
    assert _statuses(tx)[("p", 2)] == "BILLED"
    assert {s for k, s in _statuses(tx).items() if k != ("p", 2)} == {"PENDING", "LATE"}
    assert tx.scalar("SELECT statement_id FROM periods WHERE number = 2") == "s1"


def test_a_single_key_column_other_than_id_and_its_stamp(tx: Tx) -> None:
    written_ms = ACCOUNT.move(tx, "u1", "ACTIVE", "FROZEN")
    row = tx.one("SELECT * FROM accounts WHERE user_id = 'u1'")
    assert row is not None and row["status"] == "FROZEN" and row["updated_at_ms"] == written_ms


def test_a_bulk_move_changes_only_matching_rows_in_the_given_states(tx: Tx) -> None:
    assert PERIOD.move_all(tx, {"plan_id": "p"}, {"PENDING", "LATE"}, "SETTLED") == 3
    assert _statuses(tx) == {("p", 1): "SETTLED", ("p", 2): "SETTLED", ("p", 3): "SETTLED"} | {
        ("q", 1): "PENDING"
    }
    assert PERIOD.move_all(tx, {"plan_id": "p"}, "PENDING", "SETTLED") == 0  # none left: no error


def test_a_transition_not_in_the_table_is_refused_and_changes_nothing(tx: Tx) -> None:
    before = _statuses(tx)
    with pytest.raises(InvalidTransition) as refused:
        PERIOD.move_all(tx, {"plan_id": "p"}, {"PENDING", "LATE"}, "BILLED")  # LATE -> BILLED
    assert refused.value.code == "INVALID_STATE_TRANSITION"
    with pytest.raises(InvalidTransition):
        PERIOD.move(tx, ("p", 1), "PENDING", "LATE")
    assert _statuses(tx) == before


def test_a_lost_race_is_a_concurrent_update(tx: Tx) -> None:
    with pytest.raises(Conflict) as lost:
        PERIOD.move(tx, ("p", 3), "PENDING", "BILLED")  # it is LATE
    assert lost.value.code == "CONCURRENT_UPDATE"


def test_starting_states_are_declared_and_the_helper_names_them() -> None:
    assert PERIOD.born() == "PENDING"
    assert ACCOUNT.born("FROZEN") == "FROZEN"
    with pytest.raises(InvalidTransition):
        PERIOD.born("BILLED")  # a state of the table, but no row starts there
    with pytest.raises(InvalidTransition):
        ACCOUNT.born()  # two starting states: the caller must name one
    with pytest.raises(AssertionError):
        StateMachine("x", "xs", {"A": {"B"}}, initial={"C"})  # not a state of the table
