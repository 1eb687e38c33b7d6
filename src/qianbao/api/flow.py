"""Flow control at the door (ADR 0940): the in-flight bound of this process, then the limits
per client address and per route, before any routing, parsing or database work. The limits per
user and per merchant app are taken where the caller is known (``api/deps.py``), the hot
parameters (one payee, one merchant) by the endpoints that name them."""

from __future__ import annotations

import time

from prometheus_client import Counter
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from qianbao.api.deps import client_address
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform

REJECTED = Counter("qianbao_flow_rejected_total", "Requests refused by flow control", ["code"])
EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})


def rejected(exc: QianbaoError) -> JSONResponse:
    REJECTED.labels(exc.code).inc()
    headers = getattr(exc, "headers", None)
    body = {"code": exc.code, "message": exc.message}
    return JSONResponse(body, status_code=exc.http_status, headers=headers)


class FlowMiddleware:
    def __init__(self, app: ASGIApp, platform: Platform) -> None:
        self.app = app
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "") in EXEMPT:
            await self.app(scope, receive, send)
            return
        controls = self.platform.controls
        try:
            controls.in_flight.enter()
        except QianbaoError as exc:
            await rejected(exc)(scope, receive, send)
            return
        try:
            self._check(scope)
        except QianbaoError as exc:
            controls.in_flight.leave()
            await rejected(exc)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            controls.in_flight.leave()

    def _check(self, scope: Scope) -> None:
        controls = self.platform.controls
        peer = (scope.get("client") or ("", 0))[0]
        headers = dict(scope.get("headers") or [])
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
        controls.check("ip", client_address(peer, forwarded, self.platform.settings))
        method, path = scope.get("method", ""), scope.get("path", "")
        for route_method, prefix, limit in controls.route_limits():
            if route_method == method and path.startswith(prefix):
                controls.limiter.check("route", f"{method} {prefix}", limit, time.monotonic())
