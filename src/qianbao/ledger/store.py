"""Bulk writes of the ledger for loaders and day-end jobs over very many accounts."""

from __future__ import annotations

from qianbao.ledger.chart import subject_of
from qianbao.platform.clock import clock
from qianbao.platform.db import Tx


def open_accounts(tx: Tx, accounts: list[tuple[str, str]]) -> int:
    """Open every (account id, owner id) that does not exist yet, with one multi-row statement;
    returns how many were new."""
    now_ms = clock.now_ms()
    rows = [
        {"id": a, "subject": subject_of(a).code, "owner": owner, "now": now_ms}
        for a, owner in accounts
    ]
    return tx.execute_values(
        "INSERT INTO accounts (id, subject, owner_id, balance_fen, hold_fen, created_at_ms)"
        " VALUES (:id, :subject, :owner, 0, 0, :now) ON CONFLICT (id) DO NOTHING",
        rows,
    )
