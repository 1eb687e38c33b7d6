"""Request observability: a request id for every request, the latency histogram per route and
caller's unit, an access log line (every request when ``log_requests``, else the slow and the
failed ones), and ``/readyz``.

Steps of the door (``api/door.py``). The request id is the caller's ``X-Request-Id`` when it
is a plain token of at most 64 characters, else a new one; the response carries it back.
Dependencies note the caller and unit, the command bus notes the command
(``platform/logs.note``); all of it lands in the request's log lines.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import MutableMapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from qianbao.platform.health import readiness
from qianbao.platform.metrics import REQUEST_LATENCY
from qianbao.platform.runtime import Platform

log = logging.getLogger("qianbao.access")
SLOW_REQUEST_S = 1.0
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_PREFIX = os.urandom(8).hex()
_COUNT = itertools.count(1)
_LATENCY: dict[tuple[str, str, str, str], Any] = {}  # the histogram's children, by labels
router = APIRouter(tags=["platform"])


def request_id(headers: dict[bytes, bytes]) -> str:
    """The caller's ``X-Request-Id`` when it is a plain token, else a new one: this process's
    random 64-bit prefix and its request count (unique without a system call per request)."""
    given = headers.get(b"x-request-id")
    if given is not None:
        text = given.decode("latin-1")
        if _REQUEST_ID.fullmatch(text):
            return text
    return f"{_PREFIX}{next(_COUNT):016x}"


def observe(
    scope: MutableMapping[str, Any],
    info: dict[str, Any],
    status: int,
    took_s: float,
    log_requests: bool,
) -> None:
    """The latency histogram, and the access line (every request when ``log_requests``, else
    the slow and the failed ones)."""
    route = getattr(scope.get("route"), "path", None) or "unmatched"
    unit = info.get("unit")
    labels = (route, scope["method"], f"{status // 100}xx", "" if unit is None else str(unit))
    child = _LATENCY.get(labels)
    if child is None:  # route templates, methods, status classes, units: a bounded set
        child = _LATENCY[labels] = REQUEST_LATENCY.labels(*labels)
    child.observe(took_s)
    if log_requests or status >= 500 or took_s >= SLOW_REQUEST_S:
        level = logging.WARNING if status >= 500 or took_s >= SLOW_REQUEST_S else logging.INFO
        log.log(
            level,
            "request",
            extra={
                **info,  # noted on threads too: their context copies do not flow back
                "method": scope["method"],
                "route": route,
                "status": status,
                "duration_ms": round(took_s * 1000, 2),
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


def install(app: FastAPI) -> None:
    """``/readyz`` on ``app`` (the door, ``api/door.py``, observes every request)."""
    app.include_router(router)
