"""Reads for the wallet's pages: a user's recent top-ups and withdrawals."""

from __future__ import annotations

from qianbao.platform.db import Row
from qianbao.platform.runtime import Platform


def bank_orders_of(p: Platform, user_id: str, limit: int = 20) -> list[Row]:
    """The user's newest bank orders (top-ups and withdrawals), any status."""
    with p.db_for(user_id).read() as tx:
        return tx.all(
            "SELECT * FROM bank_orders WHERE user_id = :u ORDER BY created_at_ms DESC, id DESC"
            " LIMIT :l",
            {"u": user_id, "l": limit},
        )
