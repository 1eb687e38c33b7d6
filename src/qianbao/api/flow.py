"""Flow control at the door (ADR 0940): the in-flight bound of this process, then the limits
per client address, per route, per user (a user token) and per merchant app (an API key),
before routing or reading the body. The hot parameters (one payee, one merchant) are taken by
the endpoints that name them; the open-platform gateway takes its app's limit itself."""

from __future__ import annotations

import time

from prometheus_client import Counter
from starlette.responses import JSONResponse
from starlette.types import Scope

from qianbao.api.deps import client_address
from qianbao.members import service as members
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform

REJECTED = Counter("qianbao_flow_rejected_total", "Requests refused by flow control", ["code"])
EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})


def rejected(exc: QianbaoError) -> JSONResponse:
    REJECTED.labels(exc.code).inc()
    headers = getattr(exc, "headers", None)
    body = {"code": exc.code, "message": exc.message}
    return JSONResponse(body, status_code=exc.http_status, headers=headers)


class FlowGate:
    """The door's first step (``api/door.py``), before routing or reading the body: enter the
    in-flight bound, then pass the limits. ``admit`` answers a refusal (nothing entered) or
    None (entered: the door calls ``leave`` once the response is sent)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def admit(self, scope: Scope, headers: dict[bytes, bytes]) -> JSONResponse | None:
        controls = self.platform.controls
        try:
            controls.in_flight.enter()
        except QianbaoError as exc:
            return rejected(exc)
        try:
            self._check(scope, headers)
        except QianbaoError as exc:
            controls.in_flight.leave()
            return rejected(exc)
        return None

    def leave(self) -> None:
        self.platform.controls.in_flight.leave()

    def _check_caller(self, authorization: str) -> None:
        """Per user (a user token) and per merchant app (an API key), from the cached
        credential look-ups: a flooder is refused before its body is even read. A credential
        that does not resolve is left to the endpoint (401)."""
        scheme, _, secret = authorization.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            return
        try:
            if secret.startswith("ut_"):
                kind, caller = "user", members.user_for_token(self.platform, secret)
            else:
                principal = members.principal_for_key(self.platform, secret)
                if principal.kind != "merchant":
                    return
                kind, caller = "app", principal.id
        except QianbaoError:
            return
        self.platform.controls.check(kind, caller)

    def _check(self, scope: Scope, headers: dict[bytes, bytes]) -> None:
        controls = self.platform.controls
        peer = (scope.get("client") or ("", 0))[0]
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
        controls.check("ip", client_address(peer, forwarded, self.platform.settings))
        self._check_caller(headers.get(b"authorization", b"").decode("latin-1"))
        method, path = scope.get("method", ""), scope.get("path", "")
        for route_method, prefix, limit in controls.route_limits():
            if route_method == method and path.startswith(prefix):
                controls.limiter.check("route", f"{method} {prefix}", limit, time.monotonic())
