"""Reads of payments for the back office: the disputes and compensations pages (one unit's
database each), the plots (aggregates in the database, bounded) and the wallet's pages (a
user's recent top-ups and withdrawals)."""

from __future__ import annotations

from qianbao.platform.db import Row, Tx
from qianbao.platform.runtime import Platform


def open_disputes(tx: Tx, limit: int) -> list[Row]:
    """Trades frozen in a dispute (``ix_trades_status``), the oldest first: the queue."""
    return tx.all(
        "SELECT * FROM trades WHERE status = 'TRADE_DISPUTED' ORDER BY updated_at_ms LIMIT :n",
        {"n": limit},
    )


def compensations(tx: Tx, limit: int) -> list[Row]:
    return tx.all(
        "SELECT * FROM trade_compensations ORDER BY created_at_ms DESC LIMIT :n", {"n": limit}
    )


def compensation_of(tx: Tx, trade_id: str) -> Row | None:
    return tx.one("SELECT * FROM trade_compensations WHERE trade_id = :t", {"t": trade_id})


MINUTE_MS = 60_000
DAY_MS = 86_400_000
SHANGHAI_OFFSET_MS = 8 * 3_600_000  # the business day (Asia/Shanghai, no daylight saving)


def payments_per_minute(tx: Tx, since_ms: int) -> dict[int, int]:
    """Merchant payments created since ``since_ms`` by minute (minute = ms // 60 000)."""
    rows = tx.all(
        "SELECT created_at_ms / :m AS minute, COUNT(*) AS n FROM payments"
        " WHERE created_at_ms >= :since GROUP BY 1",
        {"m": MINUTE_MS, "since": since_ms},
    )
    return {int(r["minute"]): int(r["n"]) for r in rows}


def merchant_sales_per_day(tx: Tx, merchant_id: str, since_ms: int) -> dict[int, int]:
    """A merchant's payments less refunds (fen) by business day number (days since 1970-01-01
    in Asia/Shanghai), from its activity index (kept in its home unit)."""
    rows = tx.all(
        "SELECT (at_ms + :tz) / :d AS day,"
        " SUM(CASE WHEN kind = 'REFUND' THEN -amount_fen ELSE amount_fen END) AS fen"
        " FROM merchant_activity WHERE merchant_id = :m AND at_ms >= :since"
        " GROUP BY 1",
        {"tz": SHANGHAI_OFFSET_MS, "d": DAY_MS, "m": merchant_id, "since": since_ms},
    )
    return {int(r["day"]): int(r["fen"] or 0) for r in rows}


def bank_orders_of(p: Platform, user_id: str, limit: int = 20) -> list[Row]:
    """The user's newest bank orders (top-ups and withdrawals), any status."""
    with p.db_for(user_id).read() as tx:
        return tx.all(
            "SELECT * FROM bank_orders WHERE user_id = :u ORDER BY created_at_ms DESC, id DESC"
            " LIMIT :l",
            {"u": user_id, "l": limit},
        )
