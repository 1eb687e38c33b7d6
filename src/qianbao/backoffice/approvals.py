"""Maker-checker (四眼原则): an operator action that moves money or credit is proposed by one
operator (the maker) and runs only when a second operator approves it (the checker).

A proposal is a row of ``operator_approvals`` in state PENDING with the action's parameters.
``approve`` claims it (PENDING -> EXECUTING, guarded: two checkers cannot both run it), runs
the action of its kind (``backoffice/actions.py``) and records the outcome: APPROVED with the
action's result, or FAILED with the error's code and message (the action changed nothing).
``reject`` ends it (REJECTED). The maker can never check their own proposal, and a checker
needs ``approve.<kind>``. Every step is in the audit log as well (``backoffice/audit.py``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from qianbao.backoffice import store
from qianbao.backoffice.errors import (
    ApprovalByMaker,
    ApprovalKindUnknown,
    ApprovalNotFound,
    ApprovalNotPending,
)
from qianbao.members.roles import approve as approve_permission
from qianbao.members.roles import propose as propose_permission
from qianbao.members.service import Principal
from qianbao.platform.clock import clock
from qianbao.platform.db import Row
from qianbao.platform.errors import QianbaoError
from qianbao.platform.ids import bucket_for_key, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine

PENDING, EXECUTING, APPROVED, REJECTED, FAILED = (
    "PENDING",
    "EXECUTING",
    "APPROVED",
    "REJECTED",
    "FAILED",
)
APPROVAL = StateMachine(
    "approval",
    "operator_approvals",
    {PENDING: {EXECUTING, REJECTED}, EXECUTING: {APPROVED, FAILED}},
    initial={PENDING},
)
LIST_MAX = 500
# kind -> the action: (platform, the maker's id, the parameters) -> its result
Action = Callable[[Platform, str, dict[str, Any]], dict[str, Any]]
ACTIONS: dict[str, Action] = {}


def register(kind: str, action: Action) -> None:
    ACTIONS[kind] = action


def propose(p: Platform, maker: Principal, kind: str, target: str, params: dict[str, Any]) -> Row:
    """A PENDING approval of ``kind`` (the action does not run yet)."""
    if kind not in ACTIONS:
        raise ApprovalKindUnknown(f"no approved action of kind {kind!r}")
    maker.require(propose_permission(kind))
    now = clock.now_ms()
    row = {
        "id": new_id(bucket_for_key(target)),
        "kind": kind,
        "target": target[:120],
        "params": json.dumps(params, sort_keys=True, ensure_ascii=False),
        "maker_id": maker.id,
        "status": APPROVAL.born(),
        "created_at_ms": now,
    }
    with p.global_db.transaction() as tx:
        store.insert_approval(tx, row)
    return get(p, str(row["id"]))


def get(p: Platform, approval_id: str) -> Row:
    with p.global_db.read() as tx:
        row = store.approval(tx, approval_id)
    if row is None:
        raise ApprovalNotFound(f"approval {approval_id[:40]} does not exist")
    return row


def list_approvals(p: Platform, status: str | None = None, limit: int = 100) -> list[Row]:
    with p.global_db.read() as tx:
        return store.approvals(tx, status, max(1, min(limit, LIST_MAX)))


def on_targets(p: Platform, targets: list[str]) -> dict[str, Row]:
    """The newest approval on each of ``targets`` (a page shows how a line was resolved)."""
    with p.global_db.read() as tx:
        rows = store.approvals_on(tx, targets)
    newest: dict[str, Row] = {}
    for row in rows:
        newest.setdefault(str(row["target"]), row)
    return newest


def _claim(p: Platform, checker: Principal, approval_id: str, target: str, note: str) -> Row:
    row = get(p, approval_id)
    checker.require(approve_permission(str(row["kind"])))
    if row["maker_id"] == checker.id:
        raise ApprovalByMaker("the operator who asked cannot approve or reject it")
    if row["status"] != PENDING:
        raise ApprovalNotPending(f"approval {approval_id} is {row['status']}")
    try:
        with p.global_db.transaction() as tx:
            APPROVAL.move(tx, approval_id, PENDING, target, checker_id=checker.id, note=note[:200])
    except QianbaoError as exc:  # another checker was first
        raise ApprovalNotPending(f"approval {approval_id} was decided meanwhile") from exc
    return row


def approve(p: Platform, checker: Principal, approval_id: str, note: str = "") -> Row:
    """Run the approved action once; its outcome is recorded either way."""
    row = _claim(p, checker, approval_id, EXECUTING, note)
    action = ACTIONS[str(row["kind"])]
    try:
        result = action(p, str(row["maker_id"]), json.loads(row["params"]))
    except Exception as exc:  # recorded whatever it was; a domain error stays a 4xx
        code = str(getattr(exc, "code", "INTERNAL_ERROR"))
        _finish(p, approval_id, FAILED, {"code": code, "message": str(exc)[:200]})
        raise
    _finish(p, approval_id, APPROVED, result)
    return get(p, approval_id)


def reject(p: Platform, checker: Principal, approval_id: str, note: str = "") -> Row:
    _claim(p, checker, approval_id, REJECTED, note)
    return get(p, approval_id)


def _finish(p: Platform, approval_id: str, status: str, result: dict[str, Any]) -> None:
    text = json.dumps(result, sort_keys=True, ensure_ascii=False, default=str)
    with p.global_db.transaction() as tx:
        APPROVAL.move(tx, approval_id, EXECUTING, status, result=text)


def public(row: Row) -> dict[str, Any]:
    return {
        "approval_id": row["id"],
        "kind": row["kind"],
        "target": row["target"],
        "params": json.loads(row["params"]),
        "status": row["status"],
        "maker_id": row["maker_id"],
        "checker_id": row["checker_id"],
        "note": row["note"],
        "result": json.loads(row["result"]) if row["result"] else None,
        "created_at_ms": row["created_at_ms"],
        "updated_at_ms": row["updated_at_ms"],
    }
