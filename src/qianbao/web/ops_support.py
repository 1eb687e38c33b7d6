"""The back office's support pages: disputes (the queue, a trade's detail, the decision) and
compensations (proposed here, paid when a second operator approves in the queue), and the
merchants' notification log with resending.

Permissions: deciding a dispute and resending a notification are ``roles.SUPPORT``; a
compensation is ``propose.compensation`` (support, finance, admin) and its approval
``approve.compensation`` (finance, admin)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao.api.deps import PlatformDep
from qianbao.api.security import csrf_guard
from qianbao.backoffice import approvals
from qianbao.members import roles
from qianbao.openapi import notify
from qianbao.payments import disputes, secured, trades
from qianbao.platform.errors import QianbaoError
from qianbao.platform.money import yuan_to_fen
from qianbao.web.ops_actions import act, action_operator, need_reason
from qianbao.web.ops_shell import OperatorCookie, operator_or_login, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])
ID_MAX = 40
Reason = Annotated[str, Form(max_length=200)]
Amount = Annotated[str, Form(max_length=20)]
NOTIFY_STATUSES = (notify.PENDING, notify.DELIVERED, notify.GAVE_UP)


@router.get("/ops/disputes", response_class=HTMLResponse)
def queue(
    request: Request, p: PlatformDep, trade: str = "", qb_operator: OperatorCookie = None
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    if trade.strip():  # the look-up form: one trade's page
        return RedirectResponse(f"/ops/disputes/{quote(trade.strip()[:ID_MAX])}", 303)
    context = {"disputes": disputes.open_disputes(p), "compensations": disputes.compensations(p)}
    return render(request, op, "ops_disputes.html", context)


@router.get("/ops/disputes/{trade_id}", response_class=HTMLResponse)
def detail(
    trade_id: str, request: Request, p: PlatformDep, qb_operator: OperatorCookie = None
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    allowed = roles.permissions(op.role)
    may = {
        "decide": roles.SUPPORT in allowed,
        "compensate": roles.propose("compensation") in allowed,
    }
    try:
        t = trades.get_trade(p, trade_id[:ID_MAX])
        paid = disputes.compensation_of(p, trade_id[:ID_MAX])
    except QianbaoError as exc:
        missing = {"t": None, "error": exc.message, "may": may}
        return render(request, op, "ops_dispute.html", missing, status_code=exc.http_status)
    asked = approvals.on_targets(p, [str(t["id"])]).get(str(t["id"]))
    context: dict[str, Any] = {
        "t": t,
        "error": "",
        "may": may,
        "refunds": trades.list_refunds(p, str(t["id"])),
        "compensation": paid,
        "asked": approvals.public(asked) if asked else None,
        "disputed": t["status"] == trades.TRADE_DISPUTED,
    }
    return render(request, op, "ops_dispute.html", context)


@router.post("/ops/disputes/{trade_id}/decide", response_class=HTMLResponse)
def decide(
    trade_id: str,
    request: Request,
    p: PlatformDep,
    decision: Annotated[str, Form(max_length=10)],
    buyer_amount: Amount = "0",
    reason: Reason = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    target = {"trade_id": trade_id[:ID_MAX], "decision": decision}
    op = action_operator(request, p, qb_operator, roles.SUPPORT, target)
    if isinstance(op, Response):
        return op

    def go() -> dict[str, Any]:
        why, buyer_fen = need_reason(reason), yuan_to_fen(buyer_amount.strip() or "0")
        row = secured.resolve_dispute(p, op.id, trade_id[:ID_MAX], decision, buyer_fen, why)
        public = trades.public_trade(row)
        keys = ("trade_no", "trade_status", "refunded_fen", "released_fen")
        return {k: public[k] for k in keys}

    return act(request, p, op, target, f"/ops/disputes/{trade_id[:ID_MAX]}", go)


@router.post("/ops/disputes/{trade_id}/compensation", response_class=HTMLResponse)
def propose_compensation(
    trade_id: str,
    request: Request,
    p: PlatformDep,
    amount: Amount = "",
    reason: Reason = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    target = {"trade_id": trade_id[:ID_MAX]}
    op = action_operator(request, p, qb_operator, roles.propose("compensation"), target)
    if isinstance(op, Response):
        return op

    def go() -> dict[str, Any]:
        why, amount_fen = need_reason(reason), yuan_to_fen(amount.strip())
        t = trades.get_trade(p, trade_id[:ID_MAX])  # unknown: a 404 now, not a failed approval
        params = {"trade_id": t["id"], "amount_fen": amount_fen, "reason": why}
        row = approvals.public(approvals.propose(p, op, "compensation", str(t["id"]), params))
        return {"approval_id": row["approval_id"], "kind": row["kind"], "status": row["status"]}

    return act(request, p, op, target, f"/ops/disputes/{trade_id[:ID_MAX]}", go)


# --- merchant notifications -----------------------------------------------------------------------
@router.get("/ops/notifications", response_class=HTMLResponse)
def notifications(
    request: Request,
    p: PlatformDep,
    status: str = "",
    trade_id: str = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    shown = status if status in NOTIFY_STATUSES else ""
    try:
        rows = notify.list_tasks(p, status=shown or None, trade_id=trade_id[:ID_MAX] or None)
    except (QianbaoError, ValueError):  # a trade id that names no unit has no notifications
        rows = []
    context = {
        "tasks": rows,
        "status": shown,
        "statuses": NOTIFY_STATUSES,
        "trade_id": trade_id[:ID_MAX],
        "may_resend": roles.SUPPORT in roles.permissions(op.role),
    }
    return render(request, op, "ops_notifications.html", context)


@router.post("/ops/notifications/{task_id}/resend", response_class=HTMLResponse)
def resend(
    task_id: str, request: Request, p: PlatformDep, qb_operator: OperatorCookie = None
) -> Response:
    target = {"task_id": task_id[:ID_MAX]}
    op = action_operator(request, p, qb_operator, roles.SUPPORT, target)
    if isinstance(op, Response):
        return op

    def go() -> dict[str, Any]:
        row = notify.resend(p, task_id[:ID_MAX])
        keys = ("id", "trade_id", "event", "status", "attempts", "last_result")
        return {k: row[k] for k in keys}

    return act(request, p, op, target, "/ops/notifications", go)
