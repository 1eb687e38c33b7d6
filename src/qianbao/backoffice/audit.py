"""The audit log of operator actions: who, what, when, on what, and with what outcome.

Every request to an operator endpoint (``/api/v1/ops/...``) is recorded, reads included (who
looked at whose data is audit material too), whether it succeeded or was refused. The log is
append-only: this module only inserts, and the migration puts triggers on the table that refuse
UPDATE and DELETE on SQLite and PostgreSQL alike. Auditors (``audit.read``) read it through
``GET /api/v1/ops/audit``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from qianbao.backoffice import store
from qianbao.backoffice.errors import AuditQueryInvalid
from qianbao.platform.clock import clock
from qianbao.platform.db import Row
from qianbao.platform.ids import bucket_for_key, new_id
from qianbao.platform.runtime import Platform

READ_MAX = 1000
TARGET_MAX = 400


@dataclass(frozen=True)
class Entry:
    operator_id: str
    role: str
    method: str
    action: str
    target: dict[str, Any]
    outcome: int
    code: str = ""


def record(p: Platform, entry: Entry) -> str:
    entry_id = new_id(bucket_for_key(entry.operator_id or "anonymous"))
    target = json.dumps(entry.target, sort_keys=True, ensure_ascii=False)[:TARGET_MAX]
    with p.global_db.transaction() as tx:
        store.insert_audit(
            tx,
            {
                "id": entry_id,
                "at_ms": clock.now_ms(),
                "operator_id": entry.operator_id[:40],
                "role": entry.role[:20],
                "method": entry.method[:8],
                "action": entry.action[:200],
                "target": target,
                "outcome": entry.outcome,
                "code": entry.code[:60],
            },
        )
    return entry_id


def read(
    p: Platform,
    operator_id: str | None = None,
    before_id: str | None = None,
    limit: int = 100,
    action: str | None = None,
    between_ms: tuple[int, int] | None = None,
) -> list[Row]:
    """Newest first; ``before_id`` pages back; ``action`` is a part of the route, ``between_ms``
    a time range [since, until)."""
    if not 1 <= limit <= READ_MAX:
        raise AuditQueryInvalid(f"limit must be 1–{READ_MAX}")
    with p.global_db.read() as tx:
        return store.audit(tx, operator_id, before_id or "~", limit, action, between_ms)


def public(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "at_ms": row["at_ms"],
        "operator_id": row["operator_id"],
        "role": row["role"],
        "method": row["method"],
        "action": row["action"],
        "target": json.loads(row["target"]) if row["target"].startswith("{") else row["target"],
        "outcome": row["outcome"],
        "code": row["code"],
    }
