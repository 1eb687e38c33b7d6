"""Every request to an operator endpoint goes into the audit log (``backoffice/audit.py``): who
(the operator the key belongs to, or '' for a refused key), what (the method and the route),
on what (path parameters and query), when, and the outcome (status and error code).

The back office's pages (``/ops``) are audited the same way: the operator is the one the
``qb_operator`` session cookie names, and a page's action adds what the operator typed (its
reason) to the target through ``note_target``. The sign-in form is not recorded (nobody is
signed in), nor the plots' images (aggregates; the plot page that shows them is).

A step of the door (``api/door.py``), so requests to other paths pay one string comparison
and nothing else. The error code comes from the API's exception handlers (``note_error``)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import Scope

from qianbao.api.security import _cookie
from qianbao.backoffice import audit
from qianbao.members import service as members
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform

OPS_PREFIX = "/api/v1/ops/"
PAGES_PREFIX = "/ops"
OPERATOR_COOKIE = "qb_operator"  # the ops pages' sign-in (``web/ops_shell.py``)
NOT_AUDITED = ("/ops/login",)
NOT_AUDITED_UNDER = "/ops/plots/"  # a plot's image: aggregates, drawn for every overview shown


def note_error(request: Request, code: str) -> None:
    """Called by the exception handlers: the code the audit entry records."""
    request.state.audit_code = code


def note_target(request: Request, **fields: str) -> None:
    """Called by an ops page's action: what the operator typed (a reason, a value), recorded in
    the entry's target beside the path parameters."""
    noted = dict(getattr(request.state, "audit_target", {}))
    request.state.audit_target = {**noted, **{k: v[:200] for k, v in fields.items()}}


def audited(path: str) -> bool:
    if path.startswith(OPS_PREFIX):
        return True
    page = path == PAGES_PREFIX or path.startswith(PAGES_PREFIX + "/")
    return page and path not in NOT_AUDITED and not path.startswith(NOT_AUDITED_UNDER)


def _secret(scope: Scope) -> str:
    if not str(scope.get("path", "")).startswith(OPS_PREFIX):
        return _cookie(scope, OPERATOR_COOKIE)
    headers = dict(scope.get("headers") or [])
    auth = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, secret = auth.partition(" ")
    return secret if scheme.lower() == "bearer" else ""


def _who(p: Platform, scope: Scope) -> tuple[str, str]:
    secret = _secret(scope)
    if not secret:
        return "", ""
    if not str(scope.get("path", "")).startswith(OPS_PREFIX):  # a page: the session cookie
        op = members.operator_of_session(p, secret[:120])
        return (op.id, op.role) if op is not None else ("", "")
    try:
        principal = members.principal_for_key(p, secret.strip())
    except QianbaoError:
        return "", ""
    return (principal.id, principal.role) if principal.kind == "operator" else ("", "")


def _entry(p: Platform, scope: Scope, status: int) -> audit.Entry:
    operator_id, role = _who(p, scope)
    route = scope.get("route")
    action = str(getattr(route, "path", "") or scope.get("path", ""))
    target: dict[str, Any] = {
        str(k): str(v)[:80] for k, v in (scope.get("path_params") or {}).items()
    }
    query = scope.get("query_string", b"").decode("latin-1")
    if query:
        target["query"] = query[:200]
    state = scope.get("state") or {}
    target.update(state.get("audit_target", {}))
    code = str(state.get("audit_code", ""))
    return audit.Entry(
        operator_id, role, str(scope.get("method", "")), action, target, status, code
    )


async def record(p: Platform, scope: Scope, status: int) -> None:
    """The entry of an audited request once it is answered (``status``; 500 if it crashed),
    written on a worker thread."""
    await run_in_threadpool(audit.record, p, _entry(p, scope, status))
