"""The biller simulator's own SQL (its database, not the platform's)."""

from __future__ import annotations

from typing import Any

from qianbao.platform.db import Row, Tx

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS biller_accounts (biller_code TEXT NOT NULL, account_no TEXT NOT"
    " NULL, holder TEXT NOT NULL, PRIMARY KEY (biller_code, account_no))",
    "CREATE TABLE IF NOT EXISTS biller_bills (bill_id TEXT PRIMARY KEY, biller_code TEXT NOT NULL,"
    " account_no TEXT NOT NULL, period TEXT NOT NULL, amount_fen BIGINT NOT NULL CHECK"
    " (amount_fen > 0), due_date TEXT NOT NULL, paid_by TEXT, paid_at_ms BIGINT)",
    "CREATE TABLE IF NOT EXISTS biller_writeoffs (request_id TEXT PRIMARY KEY, biller_code TEXT"
    " NOT NULL, bill_id TEXT NOT NULL, account_no TEXT NOT NULL, amount_fen BIGINT NOT NULL,"
    " outcome TEXT NOT NULL, receipt_no TEXT NOT NULL, reason TEXT NOT NULL, at_ms BIGINT NOT"
    " NULL)",
]


def create(tx: Tx) -> None:
    for ddl in SCHEMA:
        tx.execute(ddl)


def open_account(tx: Tx, biller_code: str, account_no: str, holder: str) -> None:
    tx.execute(
        "INSERT INTO biller_accounts (biller_code, account_no, holder) VALUES (:b, :a, :h)"
        " ON CONFLICT DO NOTHING",
        {"b": biller_code, "a": account_no, "h": holder},
    )


def account(tx: Tx, biller_code: str, account_no: str) -> Row | None:
    return tx.one(
        "SELECT * FROM biller_accounts WHERE biller_code = :b AND account_no = :a",
        {"b": biller_code, "a": account_no},
    )


def insert_bill(tx: Tx, row: dict[str, Any]) -> None:
    tx.execute(
        "INSERT INTO biller_bills (bill_id, biller_code, account_no, period, amount_fen, due_date)"
        " VALUES (:bill_id, :biller_code, :account_no, :period, :amount_fen, :due_date)",
        row,
    )


def unpaid_bills(tx: Tx, biller_code: str, account_no: str) -> list[Row]:
    return tx.all(
        "SELECT * FROM biller_bills WHERE biller_code = :b AND account_no = :a AND paid_by IS NULL"
        " ORDER BY due_date, bill_id",
        {"b": biller_code, "a": account_no},
    )


def bill(tx: Tx, bill_id: str) -> Row | None:
    return tx.one("SELECT * FROM biller_bills WHERE bill_id = :id", {"id": bill_id})


def write_off(tx: Tx, bill_id: str, paid_by: str, at_ms: int) -> bool:
    """Mark a bill paid, once (guarded): False when it was paid already."""
    return bool(
        tx.execute(
            "UPDATE biller_bills SET paid_by = :p, paid_at_ms = :t WHERE bill_id = :id"
            " AND paid_by IS NULL",
            {"p": paid_by, "t": at_ms, "id": bill_id},
        )
    )


def record_writeoff(tx: Tx, row: dict[str, Any]) -> None:
    tx.execute(
        "INSERT INTO biller_writeoffs (request_id, biller_code, bill_id, account_no, amount_fen,"
        " outcome, receipt_no, reason, at_ms) VALUES (:request_id, :biller_code, :bill_id,"
        " :account_no, :amount_fen, :outcome, :receipt_no, :reason, :at_ms)",
        row,
    )


def writeoff(tx: Tx, request_id: str) -> Row | None:
    return tx.one("SELECT * FROM biller_writeoffs WHERE request_id = :r", {"r": request_id})


def writeoffs_between(tx: Tx, biller_code: str, start_ms: int, end_ms: int) -> list[Row]:
    return tx.all(
        "SELECT * FROM biller_writeoffs WHERE biller_code = :b AND outcome = 'SUCCEEDED'"
        " AND at_ms >= :s AND at_ms < :e ORDER BY at_ms, request_id",
        {"b": biller_code, "s": start_ms, "e": end_ms},
    )
