"""The back office's approvals queue (四眼原则): the requests waiting for a second operator,
one request's detail, approve (with the one-time password once enrolled) or reject with a
reason. The rules are ``backoffice/approvals.py``'s: a maker never checks their own request,
a checker needs ``approve.<kind>``; this page only shows the buttons to whom they would work."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from qianbao.api.deps import PlatformDep
from qianbao.api.security import csrf_guard
from qianbao.backoffice import approvals, totp
from qianbao.members import roles
from qianbao.members import service as members
from qianbao.platform.clock import clock
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.web.ops_actions import act, action_operator, need_reason
from qianbao.web.ops_shell import OperatorCookie, operator_or_login, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])
STATUSES = (approvals.PENDING, approvals.APPROVED, approvals.REJECTED, approvals.FAILED)
ID_MAX = 40
OTP_MAX = 10


def _age(created_at_ms: int) -> str:
    minutes = max(0, clock.now_ms() - created_at_ms) // 60_000
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} d"


def view(row: Any, op: members.Principal) -> dict[str, Any]:
    """An approval as the page shows it: the amount and reason out of its parameters, its age,
    and whether this operator may decide it."""
    a = approvals.public(row)
    params = a["params"]
    amount_fen = params.get("amount_fen", params.get("line_fen"))
    may = roles.approve(str(a["kind"])) in roles.permissions(op.role)
    return {
        **a,
        "amount_fen": amount_fen if isinstance(amount_fen, int) else None,
        "reason": str(params.get("reason", "")),
        "age": _age(int(a["created_at_ms"])),
        "can_decide": a["status"] == approvals.PENDING and may and a["maker_id"] != op.id,
        "own": a["maker_id"] == op.id,
    }


@router.get("/ops/approvals", response_class=HTMLResponse)
def queue(
    request: Request,
    p: PlatformDep,
    status: str = approvals.PENDING,
    qb_operator: OperatorCookie = None,
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    shown = status if status in STATUSES else approvals.PENDING
    rows = [view(r, op) for r in approvals.list_approvals(p, shown, 200)]
    context = {"approvals": rows, "status": shown, "statuses": STATUSES}
    return render(request, op, "ops_approvals.html", context)


@router.get("/ops/approvals/{approval_id}", response_class=HTMLResponse)
def detail(
    approval_id: str, request: Request, p: PlatformDep, qb_operator: OperatorCookie = None
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    try:
        a = view(approvals.get(p, approval_id[:ID_MAX]), op)
    except QianbaoError as exc:
        missing = {"a": None, "error": exc.message}
        return render(request, op, "ops_approval.html", missing, status_code=exc.http_status)
    context: dict[str, Any] = {"a": a, "error": "", "otp_enrolled": totp.enrolled(p, op.id)}
    return render(request, op, "ops_approval.html", context)


def _decide(p: Platform, op: members.Principal, approval_id: str, otp: str) -> None:
    approvals.get(p, approval_id)  # an unknown id is a 404 before a code is spent on it
    totp.verify(p, op.id, otp.strip() or None, p.settings.operator_otp_required)


@router.post("/ops/approvals/{approval_id}/approve", response_class=HTMLResponse)
def approve(
    approval_id: str,
    request: Request,
    p: PlatformDep,
    note: Annotated[str, Form(max_length=200)] = "",
    otp: Annotated[str, Form(max_length=OTP_MAX)] = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    target = {"approval_id": approval_id[:ID_MAX]}
    op = action_operator(request, p, qb_operator, roles.READ, target)
    if isinstance(op, Response):
        return op
    back = f"/ops/approvals/{approval_id[:ID_MAX]}"

    def run() -> dict[str, Any]:
        _decide(p, op, approval_id[:ID_MAX], otp)
        row = approvals.public(approvals.approve(p, op, approval_id[:ID_MAX], note))
        outcome = {f"result_{k}": v for k, v in (row["result"] or {}).items()}
        return {"approval_id": row["approval_id"], "status": row["status"], **outcome}

    return act(request, p, op, target, back, run)


@router.post("/ops/approvals/{approval_id}/reject", response_class=HTMLResponse)
def reject(
    approval_id: str,
    request: Request,
    p: PlatformDep,
    reason: Annotated[str, Form(max_length=200)] = "",
    otp: Annotated[str, Form(max_length=OTP_MAX)] = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    target = {"approval_id": approval_id[:ID_MAX]}
    op = action_operator(request, p, qb_operator, roles.READ, target)
    if isinstance(op, Response):
        return op
    back = f"/ops/approvals/{approval_id[:ID_MAX]}"

    def run() -> dict[str, Any]:
        why = need_reason(reason)
        _decide(p, op, approval_id[:ID_MAX], otp)
        row = approvals.public(approvals.reject(p, op, approval_id[:ID_MAX], why))
        return {"approval_id": row["approval_id"], "status": row["status"], "note": row["note"]}

    return act(request, p, op, target, back, run)
