"""Reads of the channel journal and the stored reconciliations, for the back office's pages."""

from __future__ import annotations

from qianbao.platform.db import Row, Tx

RUNS_MAX = 500


def reconciliation_runs(tx: Tx, limit: int) -> list[Row]:
    """Stored reconciliations, the latest day first (one row per channel and day)."""
    return tx.all(
        "SELECT channel, day, status, bank_lines, matched, differences, bank_closing_fen,"
        " ledger_closing_fen, run_at_ms FROM channel_reconciliations"
        " ORDER BY day DESC, channel LIMIT :n",
        {"n": max(1, min(limit, RUNS_MAX))},
    )


def channel_request(tx: Tx, channel: str, request_id: str) -> Row | None:
    return tx.one(
        "SELECT channel, request_id, kind, amount_fen, status, redrive_of FROM channel_requests"
        " WHERE channel = :c AND request_id = :r",
        {"c": channel, "r": request_id},
    )
