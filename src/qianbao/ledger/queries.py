"""Set-based reads of the ledger for day-end jobs over very many accounts."""

from __future__ import annotations

from qianbao.platform.db import Tx


def balances_of_subject(tx: Tx, subject: str) -> dict[str, int]:
    """Every account of ``subject`` with a non-zero balance -> its balance (fen)."""
    rows = tx.all(
        "SELECT id, balance_fen FROM accounts WHERE subject = :s AND balance_fen <> 0",
        {"s": subject},
    )
    return {str(r["id"]): int(r["balance_fen"]) for r in rows}
