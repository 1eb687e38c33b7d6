"""Reads of the channel journal and the stored reconciliations, for the back office's pages
and plots."""

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


def insert_note(tx: Tx, row: dict[str, object]) -> int:
    """Once per line: a second note on the same line changes nothing (returns 0)."""
    return tx.execute(
        "INSERT INTO channel_difference_notes (channel, day, request_id, operator_id, note,"
        " resolved_at_ms) VALUES (:channel, :day, :request_id, :operator_id, :note, :at)"
        " ON CONFLICT (channel, day, request_id) DO NOTHING",
        row,
    )


def notes(tx: Tx, channel: str, day: str) -> list[Row]:
    return tx.all(
        "SELECT request_id, operator_id, note, resolved_at_ms FROM channel_difference_notes"
        " WHERE channel = :c AND day = :d",
        {"c": channel, "d": day},
    )


def differences_per_day(tx: Tx, since_day: str) -> dict[str, int]:
    """Differences found per reconciled day (all channels) from ``since_day`` on."""
    rows = tx.all(
        "SELECT day, SUM(differences) AS n FROM channel_reconciliations"
        " WHERE day >= :d GROUP BY day ORDER BY day",
        {"d": since_day},
    )
    return {str(r["day"]): int(r["n"] or 0) for r in rows}
