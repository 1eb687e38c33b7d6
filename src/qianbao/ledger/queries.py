"""Set-based reads of the ledger for day-end jobs over very many accounts."""

from __future__ import annotations

from typing import Any

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


def statement_lines(
    tx: Tx, account: str, side: int, where: dict[str, Any], limit: int, offset: int
) -> list[Row]:
    """The account's postings newest first with the running balance after each (signed as
    stored), keeping those that match ``where``: ``since_ms``/``until_ms`` (created, half-open),
    ``sign`` (+1 money in, -1 money out, 0 both, as the holder sees it: ``side`` × stored) and
    ``kind`` (a voucher kind, "" for every kind)."""
    return tx.all(
        "SELECT * FROM (SELECT p.id, p.amount_fen, p.created_at_ms, v.kind, v.ref, v.memo,"
        " SUM(p.amount_fen) OVER (ORDER BY p.id) AS running_fen"
        " FROM postings p JOIN vouchers v ON v.id = p.voucher_id"
        " WHERE p.account_id = :acct) s WHERE s.created_at_ms >= :since"
        " AND s.created_at_ms < :until AND (:sign = 0 OR s.amount_fen * :side * :sign > 0)"
        " AND (:kind = '' OR s.kind = :kind) ORDER BY s.id DESC LIMIT :limit OFFSET :offset",
        {"acct": account, "side": side, "limit": limit, "offset": offset, **where},
    )


def statement_kinds(tx: Tx, account: str) -> list[str]:
    """The voucher kinds that ever touched the account, sorted (the statement's kind filter)."""
    rows = tx.all(
        "SELECT DISTINCT v.kind FROM postings p JOIN vouchers v ON v.id = p.voucher_id"
        " WHERE p.account_id = :a ORDER BY v.kind",
        {"a": account},
    )
    return [str(r["kind"]) for r in rows]
