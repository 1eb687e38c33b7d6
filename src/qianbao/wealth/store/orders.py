"""SQL of the platform's Yu'e Bao tables (unit databases)."""

from __future__ import annotations

import json
from typing import Any

from qianbao.platform.db import Row, Tx

_INSERT_ORDER = (
    "INSERT INTO yuebao_orders (id, user_id, kind, mode, amount_fen, status, day, trade_date,"
    " confirm_date, request_id, ref, shares_delta_fen, shares_at_ms, created_at_ms,"
    " updated_at_ms) VALUES (:id, :user_id, :kind, :mode, :amount_fen, :status, :day,"
    " :trade_date, :confirm_date, :request_id, :ref, :shares_delta_fen, :shares_at_ms, :now,"
    " :now)"
)


def insert_order(tx: Tx, row: dict[str, Any]) -> None:
    tx.execute(_INSERT_ORDER, row)


def order(tx: Tx, order_id: str) -> Row | None:
    return tx.one("SELECT * FROM yuebao_orders WHERE id = :id", {"id": order_id})


def user_orders(tx: Tx, user_id: str, limit: int) -> list[Row]:
    return tx.all(
        "SELECT * FROM yuebao_orders WHERE user_id = :u ORDER BY created_at_ms DESC, id DESC"
        " LIMIT :n",
        {"u": user_id, "n": limit},
    )


def fast_redeemed_fen(tx: Tx, user_id: str, day: str) -> int:
    return int(
        tx.scalar(
            "SELECT COALESCE(SUM(amount_fen), 0) FROM yuebao_orders WHERE user_id = :u"
            " AND day = :d AND kind = 'REDEEM' AND mode = 'FAST'",
            {"u": user_id, "d": day},
        )
        or 0
    )


def first_order_day(tx: Tx) -> str | None:
    raw = tx.scalar("SELECT MIN(day) FROM yuebao_orders")
    return None if raw is None else str(raw)


def accepted_orders(tx: Tx, through_day: str) -> list[Row]:
    return tx.all(
        "SELECT * FROM yuebao_orders WHERE status = 'ACCEPTED' AND trade_date <= :d ORDER BY id",
        {"d": through_day},
    )


def orders_confirmed_on(tx: Tx, day: str) -> list[Row]:
    return tx.all(
        "SELECT * FROM yuebao_orders WHERE confirm_date = :d AND status IN ('CONFIRMED',"
        " 'FAILED') ORDER BY id",
        {"d": day},
    )


def shares_changed_since(tx: Tx, since_ms: int) -> dict[str, int]:
    """user id -> the net change to confirmed shares by orders at or after ``since_ms``."""
    rows = tx.all(
        "SELECT user_id, SUM(shares_delta_fen) AS d FROM yuebao_orders"
        " WHERE shares_at_ms >= :t GROUP BY user_id",
        {"t": since_ms},
    )
    return {str(r["user_id"]): int(r["d"]) for r in rows}


def set_shares_moved(tx: Tx, order_id: str, delta_fen: int, at_ms: int) -> None:
    tx.execute(
        "UPDATE yuebao_orders SET shares_delta_fen = :d, shares_at_ms = :t WHERE id = :id",
        {"d": delta_fen, "t": at_ms, "id": order_id},
    )


# --- day-end steps ---------------------------------------------------------------------------
def step_result(tx: Tx, day: str, step: str) -> dict[str, Any] | None:
    raw = tx.scalar(
        "SELECT result_json FROM yuebao_days WHERE day = :d AND step = :s", {"d": day, "s": step}
    )
    return None if raw is None else dict(json.loads(raw))


def last_step_day(tx: Tx, step: str) -> str | None:
    raw = tx.scalar("SELECT MAX(day) FROM yuebao_days WHERE step = :s", {"s": step})
    return None if raw is None else str(raw)


def save_step(tx: Tx, day: str, step: str, result: dict[str, Any], at_ms: int) -> None:
    tx.execute("DELETE FROM yuebao_days WHERE day = :d AND step = :s", {"d": day, "s": step})
    tx.execute(
        "INSERT INTO yuebao_days (day, step, result_json, at_ms) VALUES (:d, :s, :j, :t)",
        {"d": day, "s": step, "j": json.dumps(result, ensure_ascii=False), "t": at_ms},
    )


def advanced_in_flight_fen(tx: Tx) -> int:
    """Redemptions the platform paid at once that the fund has not yet confirmed."""
    return int(
        tx.scalar(
            "SELECT COALESCE(SUM(amount_fen), 0) FROM yuebao_orders WHERE kind = 'REDEEM'"
            " AND mode IN ('FAST', 'PAY', 'AUTODEBIT') AND status IN ('ACCEPTED', 'SENT')"
        )
        or 0
    )
