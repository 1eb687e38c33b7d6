"""Bill payment's SQL on the platform's databases (billers and reports global; orders and
agreements in the user's unit)."""

from __future__ import annotations

from typing import Any

from qianbao.platform.db import Row, Tx

PAYMENT_COLUMNS = (
    "id, user_id, request_id, biller_code, merchant_id, account_no, holder, bill_id, period,"
    " amount_fen, funding, card_id, agreement_id, status, created_at_ms, updated_at_ms"
)


# --- billers (global) ------------------------------------------------------------------------
def insert_biller(tx: Tx, row: dict[str, Any]) -> None:
    tx.execute(
        "INSERT INTO billers (code, name, category, merchant_id, created_at_ms)"
        " VALUES (:code, :name, :category, :merchant_id, :now)",
        row,
    )


def biller(tx: Tx, code: str) -> Row | None:
    return tx.one("SELECT * FROM billers WHERE code = :c", {"c": code})


def billers(tx: Tx) -> list[Row]:
    return tx.all("SELECT * FROM billers ORDER BY category, code")


# --- bill payments (unit) --------------------------------------------------------------------
def insert_payment(tx: Tx, row: dict[str, Any]) -> None:
    tx.execute(
        f"INSERT INTO bill_payments ({PAYMENT_COLUMNS}) VALUES (:id, :user_id, :request_id,"
        " :biller_code, :merchant_id, :account_no, :holder, :bill_id, :period, :amount_fen,"
        " :funding, :card_id, :agreement_id, 'CREATED', :now, :now)",
        row,
    )


def payment(tx: Tx, payment_id: str) -> Row | None:
    return tx.one("SELECT * FROM bill_payments WHERE id = :id", {"id": payment_id})


def payment_by_request(tx: Tx, user_id: str, request_id: str) -> Row | None:
    return tx.one(
        "SELECT * FROM bill_payments WHERE user_id = :u AND request_id = :r",
        {"u": user_id, "r": request_id},
    )


def live_payment_of_bill(tx: Tx, bill_id: str) -> Row | None:
    """This unit's payment of the bill that has taken or may take money (not refunded)."""
    return tx.one(
        "SELECT * FROM bill_payments WHERE bill_id = :b AND status IN ('PAID', 'SUCCEEDED')",
        {"b": bill_id},
    )


def payments_of(tx: Tx, user_id: str, limit: int) -> list[Row]:
    return tx.all(
        "SELECT * FROM bill_payments WHERE user_id = :u ORDER BY created_at_ms DESC, id DESC"
        " LIMIT :l",
        {"u": user_id, "l": limit},
    )


def unanswered(tx: Tx, created_before_ms: int, limit: int) -> list[Row]:
    return tx.all(
        "SELECT * FROM bill_payments WHERE status = 'PAID' AND created_at_ms <= :t"
        " ORDER BY created_at_ms LIMIT :l",
        {"t": created_before_ms, "l": limit},
    )


def stale_created(tx: Tx, created_before_ms: int, limit: int) -> list[Row]:
    return tx.all(
        "SELECT id FROM bill_payments WHERE status = 'CREATED' AND created_at_ms <= :t"
        " ORDER BY created_at_ms LIMIT :l",
        {"t": created_before_ms, "l": limit},
    )


def unanswered_fen(tx: Tx, merchant_id: str) -> int:
    return int(
        tx.scalar(
            "SELECT COALESCE(SUM(amount_fen - fee_fen), 0) FROM bill_payments"
            " WHERE merchant_id = :m AND status = 'PAID'",
            {"m": merchant_id},
        )
        or 0
    )


def mark_asked(tx: Tx, payment_id: str, now_ms: int) -> None:
    tx.execute(
        "UPDATE bill_payments SET asked_biller = :t, updated_at_ms = :now WHERE id = :id",
        {"t": True, "now": now_ms, "id": payment_id},
    )


def of_biller_between(tx: Tx, biller_code: str, start_ms: int, end_ms: int) -> list[Row]:
    """Payments of a biller answered SUCCEEDED in a time window (``updated_at_ms``)."""
    return tx.all(
        "SELECT * FROM bill_payments WHERE biller_code = :b AND status = 'SUCCEEDED'"
        " AND updated_at_ms >= :s AND updated_at_ms < :e",
        {"b": biller_code, "s": start_ms, "e": end_ms},
    )


def payments_by_ids(tx: Tx, ids: list[str]) -> list[Row]:
    if not ids:
        return []
    marks = ", ".join(f":i{n}" for n in range(len(ids)))
    return tx.all(
        f"SELECT * FROM bill_payments WHERE id IN ({marks})",
        {f"i{n}": v for n, v in enumerate(ids)},
    )


# --- automatic payment agreements (unit) -----------------------------------------------------
def insert_agreement(tx: Tx, row: dict[str, Any]) -> None:
    tx.execute(
        "INSERT INTO autopay_agreements (id, user_id, biller_code, account_no, max_amount_fen,"
        " status, created_at_ms, updated_at_ms) VALUES (:id, :user_id, :biller_code,"
        " :account_no, :max_amount_fen, 'ACTIVE', :now, :now)",
        row,
    )


def agreement(tx: Tx, agreement_id: str) -> Row | None:
    return tx.one("SELECT * FROM autopay_agreements WHERE id = :id", {"id": agreement_id})


def agreements_of(tx: Tx, user_id: str) -> list[Row]:
    return tx.all(
        "SELECT * FROM autopay_agreements WHERE user_id = :u ORDER BY created_at_ms",
        {"u": user_id},
    )


def active_agreement(tx: Tx, user_id: str, biller_code: str, account_no: str) -> Row | None:
    return tx.one(
        "SELECT * FROM autopay_agreements WHERE user_id = :u AND biller_code = :b"
        " AND account_no = :a AND status = 'ACTIVE'",
        {"u": user_id, "b": biller_code, "a": account_no},
    )


def active_agreements(tx: Tx, after_id: str, limit: int) -> list[Row]:
    return tx.all(
        "SELECT * FROM autopay_agreements WHERE status = 'ACTIVE' AND id > :a ORDER BY id LIMIT :l",
        {"a": after_id, "l": limit},
    )


# --- reconciliation reports (global) ---------------------------------------------------------
def save_report(tx: Tx, row: dict[str, Any]) -> None:
    key = {"b": row["biller_code"], "d": row["day"]}
    tx.execute("DELETE FROM bill_reconciliations WHERE biller_code = :b AND day = :d", key)
    tx.execute(
        "INSERT INTO bill_reconciliations (biller_code, day, status, lines, matched, differences,"
        " biller_total_fen, platform_total_fen, report_json, run_at_ms) VALUES (:biller_code,"
        " :day, :status, :lines, :matched, :differences, :biller_total_fen,"
        " :platform_total_fen, :report_json, :run_at_ms)",
        row,
    )


def report(tx: Tx, biller_code: str, day: str) -> Row | None:
    return tx.one(
        "SELECT * FROM bill_reconciliations WHERE biller_code = :b AND day = :d",
        {"b": biller_code, "d": day},
    )
