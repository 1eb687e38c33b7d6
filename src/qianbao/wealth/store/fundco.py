"""SQL of the fund company simulator's own database (its books, not ours)."""

from __future__ import annotations

from typing import Any

from qianbao.platform.db import Row, Tx

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS fund_accounts (account_no TEXT PRIMARY KEY,"
    " shares_fen BIGINT NOT NULL CHECK (shares_fen >= 0))",
    "CREATE TABLE IF NOT EXISTS fund_orders (order_id TEXT PRIMARY KEY, account_no TEXT NOT NULL,"
    " kind TEXT NOT NULL, amount_fen BIGINT NOT NULL, trade_date TEXT NOT NULL,"
    " confirm_date TEXT NOT NULL, status TEXT NOT NULL, confirmed_on TEXT,"
    " received_at_ms BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_fund_orders_status ON fund_orders (status, confirm_date)",
    "CREATE TABLE IF NOT EXISTS fund_rates (day TEXT PRIMARY KEY, per_10k_e4 BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS fund_income (day TEXT NOT NULL, account_no TEXT NOT NULL,"
    " shares_fen BIGINT NOT NULL, income_fen BIGINT NOT NULL, closing_fen BIGINT NOT NULL,"
    " PRIMARY KEY (day, account_no))",
]


def create(tx: Tx) -> None:
    for ddl in SCHEMA:
        tx.execute(ddl)


def open_account(tx: Tx, account_no: str) -> None:
    tx.execute(
        "INSERT INTO fund_accounts (account_no, shares_fen) VALUES (:a, 0)"
        " ON CONFLICT (account_no) DO NOTHING",
        {"a": account_no},
    )


def shares(tx: Tx, account_no: str) -> int:
    return int(
        tx.scalar("SELECT shares_fen FROM fund_accounts WHERE account_no = :a", {"a": account_no})
        or 0
    )


def accounts(tx: Tx) -> list[Row]:
    return tx.all("SELECT * FROM fund_accounts ORDER BY account_no")


def add_shares(tx: Tx, account_no: str, delta_fen: int) -> int:
    """Guarded: the account may not go below zero; returns the rows changed (0 or 1)."""
    return tx.execute(
        "UPDATE fund_accounts SET shares_fen = shares_fen + :d"
        " WHERE account_no = :a AND shares_fen + :d >= 0",
        {"d": delta_fen, "a": account_no},
    )


def receive_order(tx: Tx, row: dict[str, Any]) -> int:
    return tx.execute(
        "INSERT INTO fund_orders (order_id, account_no, kind, amount_fen, trade_date,"
        " confirm_date, status, confirmed_on, received_at_ms) VALUES (:order_id, :account_no,"
        " :kind, :amount_fen, :trade_date, :confirm_date, :status, NULL, :at)"
        " ON CONFLICT (order_id) DO NOTHING",
        row,
    )


def due_orders(tx: Tx, day: str) -> list[Row]:
    return tx.all(
        "SELECT * FROM fund_orders WHERE status = 'RECEIVED' AND confirm_date <= :d"
        " ORDER BY order_id",
        {"d": day},
    )


def confirmed_on(tx: Tx, day: str) -> list[Row]:
    return tx.all("SELECT * FROM fund_orders WHERE confirmed_on = :d ORDER BY order_id", {"d": day})


def rate(tx: Tx, day: str) -> int | None:
    raw = tx.scalar("SELECT per_10k_e4 FROM fund_rates WHERE day = :d", {"d": day})
    return None if raw is None else int(raw)


def rates(tx: Tx, first: str, last: str) -> list[Row]:
    return tx.all(
        "SELECT day, per_10k_e4 FROM fund_rates WHERE day >= :a AND day <= :b ORDER BY day",
        {"a": first, "b": last},
    )


def publish_rate(tx: Tx, day: str, per_10k_e4: int) -> int:
    return tx.execute(
        "INSERT INTO fund_rates (day, per_10k_e4) VALUES (:d, :r) ON CONFLICT (day) DO NOTHING",
        {"d": day, "r": per_10k_e4},
    )


def income_rows(tx: Tx, day: str) -> list[Row]:
    return tx.all("SELECT * FROM fund_income WHERE day = :d ORDER BY account_no", {"d": day})


def book_income(tx: Tx, day: str, account_no: str, shares_fen: int, income_fen: int) -> None:
    tx.execute(
        "INSERT INTO fund_income (day, account_no, shares_fen, income_fen, closing_fen)"
        " VALUES (:d, :a, :s, :i, :c)",
        {"d": day, "a": account_no, "s": shares_fen, "i": income_fen, "c": shares_fen + income_fen},
    )
