"""The ops console's merchant applications: the queue, an application's detail (the bank account
masked), approve and reject with a reason. Needs ``roles.MERCHANTS``; every view and decision is
in the audit log (``api/ops_audit.py`` records every ops page). The activation link is shown
once, to the approving operator, right after the approval."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from qianbao.api.deps import PlatformDep
from qianbao.api.ops_audit import note_error, note_target
from qianbao.api.security import csrf_guard
from qianbao.members import roles
from qianbao.members import service as members
from qianbao.onboarding import applications
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.web.ops_shell import OperatorCookie, operator_or_login, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])
BASE = "/ops/merchant-applications"


@router.get(BASE, response_class=HTMLResponse)
def queue(
    request: Request, p: PlatformDep, status: str = "", qb_operator: OperatorCookie = None
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.MERCHANTS)
    if isinstance(op, Response):
        return op
    rows = [applications.public_application(r) for r in applications.list_applications(p, status)]
    context = {"applications": rows, "status": status[:12].upper()}
    return render(request, op, "ops_merchant_applications.html", context)


def _detail(
    request: Request,
    p: Platform,
    op: members.Principal,
    application_id: str,
    status: int = 200,
    **extra: Any,
) -> HTMLResponse:
    try:
        row = applications.get_application(p, application_id)
    except QianbaoError as exc:
        missing: dict[str, Any] = {"a": None, "error": exc.message, "activation": ""}
        return render(request, op, "ops_merchant_application.html", missing, status_code=404)
    context: dict[str, Any] = {
        "a": applications.public_application(row),
        "error": "",
        "activation": "",
        **extra,
    }
    return render(request, op, "ops_merchant_application.html", context, status_code=status)


@router.get(BASE + "/{application_id}", response_class=HTMLResponse)
def detail(
    application_id: str, request: Request, p: PlatformDep, qb_operator: OperatorCookie = None
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.MERCHANTS)
    if isinstance(op, Response):
        return op
    return _detail(request, p, op, application_id[:40])


@router.post(BASE + "/{application_id}/approve", response_class=HTMLResponse)
def approve(
    application_id: str, request: Request, p: PlatformDep, qb_operator: OperatorCookie = None
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.MERCHANTS)
    if isinstance(op, Response):
        return op
    try:
        done = applications.approve(p, op.id, application_id[:40])
    except QianbaoError as exc:
        note_error(request, str(exc.code))
        error = f"{exc.code}: {exc.message}"
        return _detail(request, p, op, application_id[:40], exc.http_status, error=error)
    link = ""
    if done.activation_code:
        link = f"{str(request.base_url).rstrip('/')}/merchant/activate?code={done.activation_code}"
    return _detail(request, p, op, application_id[:40], activation=link)


@router.post(BASE + "/{application_id}/reject", response_class=HTMLResponse)
def reject(
    application_id: str,
    request: Request,
    p: PlatformDep,
    reason: Annotated[str, Form(max_length=400)] = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.MERCHANTS)
    if isinstance(op, Response):
        return op
    note_target(request, reason=reason)
    try:
        applications.reject(p, op.id, application_id[:40], reason)
    except QianbaoError as exc:
        note_error(request, str(exc.code))
        error = f"{exc.code}: {exc.message}"
        return _detail(request, p, op, application_id[:40], exc.http_status, error=error)
    return _detail(request, p, op, application_id[:40])
