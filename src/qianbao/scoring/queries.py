"""Reads of credit scores for the back office's plots."""

from __future__ import annotations

from qianbao.platform.db import Tx


def latest_score_bands(tx: Tx, band: int) -> dict[int, int]:
    """Users by the band (lower bound, ``band`` wide) of their latest score in this unit."""
    rows = tx.all(
        "SELECT (s.score / :b) * :b AS low, COUNT(*) AS n FROM credit_scores s"
        " JOIN (SELECT user_id, MAX(created_at_ms) AS at FROM credit_scores GROUP BY user_id) l"
        " ON l.user_id = s.user_id AND l.at = s.created_at_ms GROUP BY 1",
        {"b": band},
    )
    return {int(r["low"]): int(r["n"]) for r in rows}
