"""Request observability: a request id for every request, the latency histogram per route and
caller's unit, an access log line (every request when ``log_requests``, else the slow and the
failed ones), and ``/readyz``.

A pure ASGI middleware (no task per request, unlike ``BaseHTTPMiddleware``). The request id is
the caller's ``X-Request-Id`` when it is a plain token of at most 64 characters, else a new
one; the response carries it back. Dependencies note the caller and unit, the command bus notes
the command (``platform/logs.note``); all of it lands in the request's log lines.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from qianbao.platform.health import readiness
from qianbao.platform.logs import REQUEST_INFO
from qianbao.platform.metrics import REQUEST_LATENCY
from qianbao.platform.runtime import Platform

log = logging.getLogger("qianbao.access")
SLOW_REQUEST_S = 1.0
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
router = APIRouter(tags=["platform"])


def _request_id(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(text):
                return text
            break
    return os.urandom(16).hex()  # 128 random bits, a fifth of uuid4().hex's cost


class RequestObserver:
    def __init__(self, app: Any, log_requests: bool = False) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        info: dict[str, Any] = {"request_id": request_id}
        token = REQUEST_INFO.set(info)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._observe(scope, info, status, time.perf_counter() - started)
            REQUEST_INFO.reset(token)
            structlog.contextvars.clear_contextvars()

    def _observe(
        self, scope: dict[str, Any], info: dict[str, Any], status: int, took: float
    ) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        unit = info.get("unit")
        REQUEST_LATENCY.labels(
            route, scope["method"], f"{status // 100}xx", "" if unit is None else str(unit)
        ).observe(took)
        if self.log_requests or status >= 500 or took >= SLOW_REQUEST_S:
            level = logging.WARNING if status >= 500 or took >= SLOW_REQUEST_S else logging.INFO
            log.log(
                level,
                "request",
                extra={
                    **info,  # noted on threads too: their context copies do not flow back
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(took * 1000, 2),
                },
            )


@router.get("/readyz", summary="Ready: databases, unit writers, relay and broker reachable")
def ready(request: Request) -> JSONResponse:
    p: Platform = request.app.state.platform
    checks = readiness(p)
    ok = all(check.ok for check in checks)
    body = {
        "status": "ready" if ok else "not ready",
        "owned_units": list(p.owned_units),
        "relay_transport": p.settings.relay_transport,
        "checks": [check.as_dict() for check in checks],
    }
    return JSONResponse(
        body, status_code=200 if ok else 503, headers={"Retry-After": "5"} if not ok else None
    )


def install(app: FastAPI, platform: Platform) -> None:
    """The middleware and ``/readyz`` on ``app``."""
    app.add_middleware(RequestObserver, log_requests=platform.settings.log_requests)
    app.include_router(router)
