"""The SQL of a bucket move: the bucket's rows of a unit table, its accounts, its share of the
unit's pool accounts, the move's vouchers, and the ``bucket_moves`` rows (ADR 0935)."""

from __future__ import annotations

import json
from typing import Any

from qianbao.platform.clock import clock
from qianbao.platform.db import Database, Row, Tx


def pattern(bucket: int) -> str:
    """``LIKE`` pattern of ids in ``bucket`` (ids end in their two-digit bucket)."""
    return f"%{bucket:02d}"


def rows_of(tx: Tx, table: str, column: str, bucket: int) -> list[Row]:
    return tx.all(f"SELECT * FROM {table} WHERE {column} LIKE :pat", {"pat": pattern(bucket)})


def rows_in(tx: Tx, table: str, column: str, values: list[str]) -> list[Row]:
    rows: list[Row] = []
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        names = {f"v{i}": v for i, v in enumerate(chunk)}
        marks = ", ".join(f":{n}" for n in names)
        rows += tx.all(f"SELECT * FROM {table} WHERE {column} IN ({marks})", names)
    return rows


def all_rows(tx: Tx, table: str) -> list[Row]:
    return tx.all(f"SELECT * FROM {table}")


def upsert(
    tx: Tx, table: str, keys: list[str], rows: list[dict[str, Any]], *, replace: bool
) -> int:
    """Insert ``rows`` (whole rows of ``table``); a row with the same key is replaced
    (``replace``) or kept."""
    if not rows:
        return 0
    columns = list(rows[0])
    others = [c for c in columns if c not in keys] or keys[:1]
    conflict = (
        "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in others)
        if replace
        else "DO NOTHING"
    )
    tx.executemany(
        f"INSERT INTO {table} ({', '.join(columns)})"
        f" VALUES ({', '.join(':' + c for c in columns)})"
        f" ON CONFLICT ({', '.join(keys)}) {conflict}",
        rows,
    )
    return len(rows)


def delete_keys(tx: Tx, table: str, keys: list[str], rows: list[dict[str, Any]]) -> None:
    if rows:
        where = " AND ".join(f"{k} = :{k}" for k in keys)
        tx.executemany(
            f"DELETE FROM {table} WHERE {where}", [{k: r[k] for k in keys} for r in rows]
        )


def owner_accounts(tx: Tx, subjects: tuple[str, ...], bucket: int) -> list[Row]:
    names = {f"s{i}": s for i, s in enumerate(subjects)}
    return tx.all(
        "SELECT id, subject, owner_id, balance_fen, hold_fen FROM accounts"
        f" WHERE subject IN ({', '.join(':' + n for n in names)}) AND owner_id LIKE :pat",
        {**names, "pat": pattern(bucket)},
    )


def pool_shares(tx: Tx, subjects: tuple[str, ...], bucket: int) -> dict[str, int]:
    """Signed postings sum per pool account over the vouchers whose ref is in ``bucket``."""
    names = {f"s{i}": s for i, s in enumerate(subjects)}
    rows = tx.all(
        "SELECT p.account_id, SUM(p.amount_fen) AS s FROM postings p"
        " JOIN vouchers v ON v.id = p.voucher_id JOIN accounts a ON a.id = p.account_id"
        f" WHERE a.subject IN ({', '.join(':' + n for n in names)}) AND v.ref LIKE :pat"
        " GROUP BY p.account_id",
        {**names, "pat": pattern(bucket)},
    )
    return {str(r["account_id"]): int(r["s"]) for r in rows if int(r["s"])}


def voucher_legs(tx: Tx, kind: str, ref: str) -> list[tuple[str, int]] | None:
    """The legs of the voucher ``kind``/``ref``, or None when it was never booked."""
    head = tx.one("SELECT id FROM vouchers WHERE kind = :k AND ref = :r", {"k": kind, "r": ref})
    if head is None:
        return None
    rows = tx.all(
        "SELECT account_id, amount_fen FROM postings WHERE voucher_id = :v ORDER BY id",
        {"v": head["id"]},
    )
    return [(str(r["account_id"]), int(r["amount_fen"])) for r in rows]


def count_of(db: Database, table: str, column: str, bucket: int) -> int:
    with db.read() as tx:
        return int(
            tx.scalar(
                f"SELECT COUNT(*) AS n FROM {table} WHERE {column} LIKE :pat",
                {"pat": pattern(bucket)},
            )
            or 0
        )


def subject_total(db: Database, subject: str) -> int:
    with db.read() as tx:
        return int(
            tx.scalar(
                "SELECT COALESCE(SUM(balance_fen), 0) AS s FROM accounts WHERE subject = :s",
                {"s": subject},
            )
            or 0
        )


# --- bucket_moves (global) ----------------------------------------------------------------
def insert_move(db: Database, move_id: str, bucket: int, from_unit: int, to_unit: int) -> None:
    now_ms = clock.now_ms()
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO bucket_moves (id, bucket, from_unit, to_unit, status, report,"
            " created_at_ms, updated_at_ms) VALUES (:id, :b, :f, :t, 'PLANNED', '', :now, :now)",
            {"id": move_id, "b": bucket, "f": from_unit, "t": to_unit, "now": now_ms},
        )


def open_move(db: Database, bucket: int) -> Row | None:
    """The bucket's unfinished move, if any."""
    with db.read() as tx:
        return tx.one(
            "SELECT * FROM bucket_moves WHERE bucket = :b"
            " AND status NOT IN ('RETIRED', 'ABORTED') ORDER BY created_at_ms DESC LIMIT 1",
            {"b": bucket},
        )


def get_move(db: Database, move_id: str) -> Row | None:
    with db.read() as tx:
        return tx.one("SELECT * FROM bucket_moves WHERE id = :id", {"id": move_id})


def list_moves(db: Database, limit: int = 50) -> list[Row]:
    with db.read() as tx:
        return tx.all(
            "SELECT * FROM bucket_moves ORDER BY created_at_ms DESC LIMIT :n", {"n": limit}
        )


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, sort_keys=True)


def pending_to(db: Database, dest_unit: int, before_ms: int) -> int:
    """Messages in this unit's outbox for ``dest_unit``, created by ``before_ms``, not yet
    delivered (PREPARED or CONFIRMED)."""
    with db.read() as tx:
        return int(
            tx.scalar(
                "SELECT COUNT(*) AS n FROM messages WHERE dest_unit = :d"
                " AND status IN ('PREPARED', 'CONFIRMED') AND created_at_ms <= :t",
                {"d": dest_unit, "t": before_ms},
            )
            or 0
        )
