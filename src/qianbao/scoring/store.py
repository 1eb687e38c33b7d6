"""Scoring's SQL that the application guard needs (the older statements still live in
``service.py``)."""

from __future__ import annotations

from qianbao.platform.db import Tx


def last_application_ms(tx: Tx, user_id: str) -> int | None:
    """When the user's latest application (not a re-score) was scored."""
    value = tx.scalar(
        "SELECT MAX(created_at_ms) AS at FROM credit_scores"
        " WHERE user_id = :u AND reason = 'APPLICATION'",
        {"u": user_id},
    )
    return None if value is None else int(value)
