"""Bulk writes of the ledger for loaders and day-end jobs over very many accounts."""

from __future__ import annotations

from typing import Any

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


def copy_postings_and_balances(
    tx: Tx, voucher: dict[str, Any], postings: list[dict[str, Any]], changes: list[dict[str, Any]]
) -> int:
    """PostgreSQL only: a very large voucher's postings by COPY, and its balance changes by COPY
    into a temporary table and one guarded UPDATE ... FROM it (the fastest bulk path the server
    has). Returns how many balances the guard let through (all of them, or the caller raises)."""
    raw = tx.raw
    raw.execute(
        "INSERT INTO vouchers (id, kind, ref, memo, created_at_ms) VALUES (%s, %s, %s, %s, %s)",
        (voucher["id"], voucher["kind"], voucher["ref"], voucher["memo"], voucher["at"]),
    )
    with raw.cursor().copy(
        "COPY postings (voucher_id, account_id, amount_fen, created_at_ms) FROM STDIN"
    ) as copy:
        for row in postings:
            copy.write_row((row["voucher_id"], row["account_id"], row["amount_fen"], row["at"]))
    raw.execute(
        "CREATE TEMPORARY TABLE bulk_balance_changes (acct TEXT PRIMARY KEY, dbal BIGINT,"
        " floor_fen BIGINT) ON COMMIT DROP"
    )
    with raw.cursor().copy("COPY bulk_balance_changes (acct, dbal, floor_fen) FROM STDIN") as copy:
        for change in changes:
            copy.write_row((change["id"], change["d"], change["floor"]))
    cursor = raw.execute(
        "UPDATE accounts SET balance_fen = accounts.balance_fen + c.dbal"
        " FROM bulk_balance_changes c WHERE accounts.id = c.acct"
        " AND accounts.balance_fen + c.dbal - accounts.hold_fen >= c.floor_fen"
    )
    changed = int(cursor.rowcount)
    raw.execute("DROP TABLE bulk_balance_changes")
    return changed
