"""The back office's SQL."""

from __future__ import annotations

from typing import Any

from qianbao.platform.db import Row, Tx

LIST_PAGE = 200  # targets asked about at once
_APPROVAL_COLUMNS = (
    "id, kind, target, params, maker_id, checker_id, status, result, note, created_at_ms,"
    " updated_at_ms"
)


def insert_approval(tx: Tx, row: dict[str, Any]) -> None:
    tx.execute(
        "INSERT INTO operator_approvals (id, kind, target, params, maker_id, status,"
        " created_at_ms, updated_at_ms) VALUES (:id, :kind, :target, :params, :maker_id,"
        " :status, :created_at_ms, :created_at_ms)",
        row,
    )


def approval(tx: Tx, approval_id: str) -> Row | None:
    return tx.one(
        f"SELECT {_APPROVAL_COLUMNS} FROM operator_approvals WHERE id = :id", {"id": approval_id}
    )


def approvals(tx: Tx, status: str | None, limit: int) -> list[Row]:
    if status is None:
        return tx.all(
            f"SELECT {_APPROVAL_COLUMNS} FROM operator_approvals ORDER BY id DESC LIMIT :n",
            {"n": limit},
        )
    return tx.all(
        f"SELECT {_APPROVAL_COLUMNS} FROM operator_approvals WHERE status = :s"
        " ORDER BY id DESC LIMIT :n",
        {"s": status, "n": limit},
    )


def insert_audit(tx: Tx, row: dict[str, Any]) -> None:
    """The only statement that writes the audit log: it is append-only (the migration adds
    triggers that refuse UPDATE and DELETE)."""
    tx.execute(
        "INSERT INTO operator_audit (id, at_ms, operator_id, role, method, action, target,"
        " outcome, code) VALUES (:id, :at_ms, :operator_id, :role, :method, :action, :target,"
        " :outcome, :code)",
        row,
    )


def audit(
    tx: Tx,
    operator_id: str | None,
    before_id: str,
    limit: int,
    action: str | None = None,
    between_ms: tuple[int, int] | None = None,
) -> list[Row]:
    """Newest first, below ``before_id``; by operator, by a part of the action, in a time range."""
    where, args = ["id < :b"], {"b": before_id, "n": limit}
    if operator_id is not None:
        where.append("operator_id = :o")
        args["o"] = operator_id
    if action:
        where.append("action LIKE :a")
        args["a"] = f"%{action}%"
    if between_ms is not None:
        where.append("at_ms >= :since AND at_ms < :until")
        args["since"], args["until"] = between_ms
    condition = " AND ".join(where)
    return tx.all(f"SELECT * FROM operator_audit WHERE {condition} ORDER BY id DESC LIMIT :n", args)


def totp(tx: Tx, operator_id: str) -> Row | None:
    return tx.one("SELECT * FROM operator_totp WHERE operator_id = :o", {"o": operator_id})


def insert_totp(tx: Tx, operator_id: str, secret: str, now_ms: int) -> int:
    return tx.execute(
        "INSERT INTO operator_totp (operator_id, secret, last_step, created_at_ms)"
        " VALUES (:o, :s, 0, :now) ON CONFLICT (operator_id) DO NOTHING",
        {"o": operator_id, "s": secret, "now": now_ms},
    )


def use_totp_step(tx: Tx, operator_id: str, step: int) -> int:
    """Guarded: a step is accepted once (a code seen is never accepted again)."""
    return tx.execute(
        "UPDATE operator_totp SET last_step = :s WHERE operator_id = :o AND last_step < :s",
        {"s": step, "o": operator_id},
    )


def approvals_on(tx: Tx, targets: list[str]) -> list[Row]:
    """The approvals on any of ``targets`` (at most a page of them), newest first."""
    if not targets:
        return []
    names = {f"t{i}": t for i, t in enumerate(targets[:LIST_PAGE])}
    where = ", ".join(f":{n}" for n in names)
    return tx.all(
        f"SELECT {_APPROVAL_COLUMNS} FROM operator_approvals WHERE target IN ({where})"
        " ORDER BY id DESC",
        names,
    )
