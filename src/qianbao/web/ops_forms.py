"""What every action form of the back office does the same way: the sign-in and role check
(``ops_shell``), the operator's typed reason into the audit entry (``api/ops_audit``), the
service's refusal shown as a page with its status, and a redirect back on success."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from qianbao.api.ops_audit import note_error, note_target
from qianbao.backoffice.errors import ReasonRequired
from qianbao.members import service as members
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.web.ops_shell import operator_or_login, render

REASON_MAX = 200
Action = Callable[[members.Principal], Any]


def refused(request: Request, op: members.Principal, exc: QianbaoError, back: str) -> Response:
    note_error(request, exc.code)
    context = {"code": exc.code, "message": exc.message, "back": back}
    return render(request, op, "ops_refused.html", context, status_code=exc.http_status)


def act(
    request: Request,
    p: Platform,
    key: str | None,
    permission: str,
    run: Action,
    back: str,
    **typed: str,
) -> Response:
    """Run ``run(operator)`` for a signed-in operator holding ``permission``; ``typed`` is what
    the operator typed (``reason`` is required when given), recorded in the audit entry."""
    op = operator_or_login(request, p, key, permission)
    if isinstance(op, Response):
        if op.status_code == 200:  # the sign-in form: an action without a session is a 401
            op.status_code = 401
        return op
    note_target(request, **typed)
    try:
        if "reason" in typed and not typed["reason"].strip():
            raise ReasonRequired("type the reason for this action")
        run(op)
    except QianbaoError as exc:
        return refused(request, op, exc, back)
    return RedirectResponse(back, status_code=303)
