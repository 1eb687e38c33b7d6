"""The back office's money pages' actions (approvals, reconciliation, support, campaigns):
the operator of an action, the reason a money-moving request must give, and the result page
(``ops_result.html``). The one audit entry of each request is written by the middleware
(``api/ops_audit.py``); an action adds what it acted on and its error code to that entry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from qianbao.api.ops_audit import note_error, note_target
from qianbao.backoffice.errors import ReasonRequired
from qianbao.members import service as members
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.web.ops_shell import operator_or_login, render

REASON_MAX = 200


def record(request: Request, target: dict[str, Any], code: str = "") -> None:
    """Add the action's target (and a refusal's code) to this request's audit entry."""
    note_target(request, **{str(k): str(v) for k, v in target.items()})
    if code:
        note_error(request, code)


def action_operator(
    request: Request, p: Platform, key: str | None, permission: str, target: dict[str, Any]
) -> members.Principal | HTMLResponse:
    """``operator_or_login`` for a form's POST; a signed-in operator refused (403) is audited."""
    op = operator_or_login(request, p, key, permission)
    if isinstance(op, Response) and op.status_code == 403:
        record(request, target, "FORBIDDEN")
    return op


def need_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise ReasonRequired("give the reason: it goes with the request to its checker")
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
        record(request, target, str(exc.code))
        context = {"ok": False, "code": exc.code, "message": exc.message, "back": back}
        return render(request, op, "ops_result.html", context, status_code=exc.http_status)
    record(request, target)
    context = {"ok": True, "result": result, "back": back, "code": "", "message": ""}
    return render(request, op, "ops_result.html", context)
