"""Reads of stored channel reconciliations for the back office's plots."""

from __future__ import annotations

from qianbao.platform.db import Tx


def differences_per_day(tx: Tx, since_day: str) -> dict[str, int]:
    """Differences found per reconciled day (all channels) from ``since_day`` on."""
    rows = tx.all(
        "SELECT day, SUM(differences) AS n FROM channel_reconciliations"
        " WHERE day >= :d GROUP BY day ORDER BY day",
        {"d": since_day},
    )
    return {str(r["day"]): int(r["n"] or 0) for r in rows}
