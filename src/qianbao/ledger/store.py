"""The ledger's day-end SQL (日终): what the books' close reads of one unit and what it stores.

The close reads postings by their id range (the primary key): postings are numbered in the order
they commit, so everything after the previous close's last posting is one range scan, whatever
the history's length.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from qianbao.platform.db import Row, Tx

# One pass over the postings after ``mark``, per account: the day's debits, credits and count;
# the sum after the cut; and what lies before the day (the opening when nothing was closed
# before; otherwise postings that arrived after their day was closed, or on days not closed).
_RANGE = (
    "SELECT account_id || '' AS account_id,"
    " CAST(SUM(CASE WHEN created_at_ms >= :s AND created_at_ms < :e AND amount_fen < 0"
    " THEN -amount_fen ELSE 0 END) AS BIGINT) AS d,"
    " CAST(SUM(CASE WHEN created_at_ms >= :s AND created_at_ms < :e AND amount_fen > 0"
    " THEN amount_fen ELSE 0 END) AS BIGINT) AS c,"
    " CAST(SUM(CASE WHEN created_at_ms >= :s AND created_at_ms < :e THEN 1 ELSE 0 END)"
    " AS BIGINT) AS n,"
    " CAST(SUM(CASE WHEN created_at_ms >= :e THEN amount_fen ELSE 0 END) AS BIGINT) AS later,"
    " CAST(SUM(CASE WHEN created_at_ms < :s THEN amount_fen ELSE 0 END) AS BIGINT) AS before,"
    " CAST(SUM(CASE WHEN created_at_ms < :p THEN 1 ELSE 0 END) AS BIGINT) AS late_n,"
    " CAST(SUM(CASE WHEN created_at_ms >= :p AND created_at_ms < :s THEN 1 ELSE 0 END)"
    " AS BIGINT) AS gap_n,"
    " MAX(CASE WHEN created_at_ms < :e THEN id END) AS top"
    # Grouped by an expression, so the planner reads the id range and sorts it, rather than
    # walking the account index over the whole history.
    " FROM postings WHERE id > :mark GROUP BY account_id || ''"
)


def postings_after(
    tx: Tx, mark: int, start_ms: int, end_ms: int, previous_end_ms: int
) -> list[Row]:
    """Per account, the postings numbered after ``mark``, split by the day [start, end)."""
    return tx.all(_RANGE, {"mark": mark, "s": start_ms, "e": end_ms, "p": previous_end_ms})


def day_vouchers(tx: Tx, mark: int, start_ms: int, end_ms: int) -> int:
    """The vouchers booked on the day: those with a posting in the day's range."""
    return int(
        tx.scalar(
            "SELECT COUNT(DISTINCT voucher_id) FROM postings WHERE id > :mark"
            " AND created_at_ms >= :s AND created_at_ms < :e",
            {"mark": mark, "s": start_ms, "e": end_ms},
        )
        or 0
    )


def all_accounts(tx: Tx) -> list[Row]:
    return tx.all("SELECT id, subject, balance_fen, created_at_ms FROM accounts")


def carried_closings(tx: Tx) -> dict[str, int]:
    """Each account's sum of postings at the latest closed day's cut."""
    return {
        r["account_id"]: int(r["sum_fen"])
        for r in tx.all("SELECT account_id, sum_fen FROM ledger_account_closings")
    }


def last_closed(tx: Tx, before: str | None = None) -> Row | None:
    """The latest closed day (before ``before``, an ISO date, when given) and its last posting."""
    where, args = ("WHERE day < :d", {"d": before}) if before else ("", {})
    return tx.one(
        f"SELECT day, last_posting_id FROM ledger_day_closings {where} ORDER BY day DESC LIMIT 1",
        args,
    )


def subject_closings(tx: Tx, day: str) -> dict[str, int]:
    return {
        r["subject"]: int(r["closing_fen"])
        for r in tx.all(
            "SELECT subject, closing_fen FROM ledger_subject_days WHERE day = :d", {"d": day}
        )
    }


def closing_head(tx: Tx, day: str) -> Row | None:
    return tx.one("SELECT * FROM ledger_day_closings WHERE day = :d", {"d": day})


def subject_days(tx: Tx, day: str) -> list[Row]:
    return tx.all(
        "SELECT subject, accounts, opening_fen, debit_fen, credit_fen, closing_fen"
        " FROM ledger_subject_days WHERE day = :d",
        {"d": day},
    )


def is_closed(tx: Tx, day: str) -> bool:
    return bool(tx.scalar("SELECT COUNT(*) FROM ledger_day_closings WHERE day = :d", {"d": day}))


def store_day(
    tx: Tx,
    head: dict[str, Any],
    subjects: Iterable[dict[str, Any]],
    accounts: Sequence[dict[str, Any]],
) -> None:
    """A closed day: its accounts that moved, its subject summary and its closing row."""
    tx.executemany(
        "INSERT INTO ledger_account_days (day, account_id, subject, opening_fen, debit_fen,"
        " credit_fen, closing_fen) VALUES (:day, :account_id, :subject, :opening_fen,"
        " :debit_fen, :credit_fen, :closing_fen)",
        accounts,  # each with its day
    )
    tx.executemany(
        "INSERT INTO ledger_subject_days (day, subject, accounts, opening_fen, debit_fen,"
        " credit_fen, closing_fen) VALUES (:day, :subject, :accounts, :opening_fen, :debit_fen,"
        " :credit_fen, :closing_fen)",
        [{"day": head["day"], **s} for s in subjects],
    )
    tx.execute(
        "INSERT INTO ledger_day_closings (day, vouchers, postings, debit_fen, credit_fen,"
        " closed_at_ms, last_posting_id) VALUES (:day, :vouchers, :postings, :debit_fen,"
        " :credit_fen, :closed_at_ms, :last_posting_id)",
        head,
    )


def carry(tx: Tx, day: str, sums: dict[str, int], *, replace: bool) -> None:
    """Each account's sum of postings at ``day``'s cut, for the next close to start from
    (``replace``: the sums are every account's, not only those that moved)."""
    if replace:
        tx.execute("DELETE FROM ledger_account_closings")
    tx.executemany(
        "INSERT INTO ledger_account_closings (account_id, day, sum_fen) VALUES (:a, :day, :s)"
        " ON CONFLICT (account_id) DO UPDATE SET day = excluded.day, sum_fen = excluded.sum_fen",
        [{"a": account, "day": day, "s": s} for account, s in sums.items()],
    )
