"""Every request to an operator endpoint goes into the audit log (``backoffice/audit.py``): who
(the operator the key belongs to, or '' for a refused key), what (the method and the route),
on what (path parameters and query), when, and the outcome (status and error code).

A plain ASGI middleware, so requests to other paths pay one string comparison and nothing
else. The error code comes from the API's exception handlers (``note_error``)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qianbao.backoffice import audit
from qianbao.members import service as members
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform

OPS_PREFIX = "/api/v1/ops/"


def note_error(request: Request, code: str) -> None:
    """Called by the exception handlers: the code the audit entry records."""
    request.state.audit_code = code


def _who(p: Platform, scope: Scope) -> tuple[str, str]:
    headers = dict(scope.get("headers") or [])
    auth = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, secret = auth.partition(" ")
    if scheme.lower() != "bearer" or not secret:
        return "", ""
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
    code = str((scope.get("state") or {}).get("audit_code", ""))
    return audit.Entry(
        operator_id, role, str(scope.get("method", "")), action, target, status, code
    )


class AuditMiddleware:
    def __init__(self, app: ASGIApp, platform: Platform) -> None:
        self.app = app
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(OPS_PREFIX):
            await self.app(scope, receive, send)
            return
        status = 500

        async def answered(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, answered)
        finally:
            entry = _entry(self.platform, scope, status)
            await run_in_threadpool(audit.record, self.platform, entry)
