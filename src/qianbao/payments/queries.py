"""Reads for the back office's disputes and compensations pages (one unit's database each)."""

from __future__ import annotations

from qianbao.platform.db import Row, Tx


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
