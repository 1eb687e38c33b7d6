"""Set-based reads of the ledger for day-end jobs over very many accounts."""

from __future__ import annotations

from qianbao.platform.db import Row, Tx


def balances_of_subject(tx: Tx, subject: str) -> dict[str, int]:
    """Every account of ``subject`` with a non-zero balance -> its balance (fen)."""
    rows = tx.all(
        "SELECT id, balance_fen FROM accounts WHERE subject = :s AND balance_fen <> 0",
        {"s": subject},
    )
    return {str(r["id"]): int(r["balance_fen"]) for r in rows}


def postings_of_kind(tx: Tx, account: str, kind: str, limit: int) -> list[Row]:
    """The account's postings of vouchers of ``kind``, newest first: (ref, amount_fen)."""
    return tx.all(
        "SELECT v.ref, p.amount_fen FROM postings p JOIN vouchers v ON v.id = p.voucher_id"
        " WHERE p.account_id = :a AND v.kind = :k ORDER BY p.id DESC LIMIT :n",
        {"a": account, "k": kind, "n": limit},
    )


def sum_of_kind(tx: Tx, account: str, kind: str) -> int:
    """Σ of the account's postings of vouchers of ``kind`` (signed as stored)."""
    return int(
        tx.scalar(
            "SELECT COALESCE(SUM(p.amount_fen), 0) FROM postings p"
            " JOIN vouchers v ON v.id = p.voucher_id WHERE p.account_id = :a AND v.kind = :k",
            {"a": account, "k": kind},
        )
        or 0
    )
