"""What the back office's action forms share (``/ops`` pages that change something): the
operator of an action (a refusal is audited too), the reason a money-moving request must give,
the audit entry of every page action, and the result page (``ops_result.html``).

The API's operator endpoints are audited by a middleware (``api/ops_audit.py``); a page action
is audited here, with the same fields: who, what (the route), on what, the outcome and code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from qianbao.backoffice import audit
from qianbao.backoffice.errors import OpsReasonRequired
from qianbao.members import service as members
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.web.ops_shell import operator_of, operator_or_login, render

REASON_MAX = 200


def record(
    p: Platform,
    request: Request,
    op: members.Principal | None,
    target: dict[str, Any],
    outcome: int,
    code: str = "",
) -> None:
    route = request.scope.get("route")
    action = str(getattr(route, "path", "") or request.url.path)
    who, role = (op.id, op.role) if op else ("", "")
    entry = audit.Entry(who, role, request.method, action, target, outcome, code)
    audit.record(p, entry)


def action_operator(
    request: Request, p: Platform, key: str | None, permission: str, target: dict[str, Any]
) -> members.Principal | HTMLResponse:
    """``operator_or_login`` for a form's POST; a signed-in operator refused (403) is audited."""
    op = operator_or_login(request, p, key, permission)
    if isinstance(op, Response) and op.status_code == 403:
        record(p, request, operator_of(p, key), target, 403, "FORBIDDEN")
    return op


def need_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise OpsReasonRequired("give the reason: it goes with the request to its checker")
    return text[:REASON_MAX]


def act(
    request: Request,
    p: Platform,
    op: members.Principal,
    target: dict[str, Any],
    back: str,
    run: Callable[[], dict[str, Any]],
) -> HTMLResponse:
    """Run a page action, audit it and show its outcome; a refused one is a 4xx page and has
    changed nothing (the use cases it calls guarantee that)."""
    try:
        result = run()
    except QianbaoError as exc:
        record(p, request, op, target, exc.http_status, str(exc.code))
        context = {"ok": False, "code": exc.code, "message": exc.message, "back": back}
        return render(request, op, "ops_result.html", context, status_code=exc.http_status)
    record(p, request, op, target, 200)
    context = {"ok": True, "result": result, "back": back, "code": "", "message": ""}
    return render(request, op, "ops_result.html", context)
