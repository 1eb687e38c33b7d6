"""Reads of the Huabei day-end report for the back office's plots."""

from __future__ import annotations

from qianbao.platform.db import Row, Tx


def day_end_reports(tx: Tx, since_day: str) -> list[Row]:
    """The unit's day-end rows (receivables, overdue, provisions) from ``since_day`` on."""
    return tx.all(
        "SELECT day, receivables_fen, overdue_fen, provision_fen FROM credit_day_end"
        " WHERE day >= :d ORDER BY day",
        {"d": since_day},
    )
