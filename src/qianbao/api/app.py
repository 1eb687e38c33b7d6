"""The FastAPI application: routers, error mapping, health and metrics."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from qianbao import __version__
from qianbao.api import controls, merchant, merchant_batch, observe, ops, ops_security, risk, wallet
from qianbao.api import sessions as sessions_api
from qianbao.api.door import Door
from qianbao.api.errors import Code
from qianbao.api.hot import hot_routes
from qianbao.api.models import ErrorOut
from qianbao.api.ops_audit import note_error
from qianbao.platform.errors import InvalidArgument, QianbaoError, all_codes
from qianbao.platform.runtime import Platform

log = logging.getLogger("qianbao.api")
ERRORS = Counter("qianbao_api_errors_total", "API errors by code", ["code"])
HOT_ROUTES = [("POST", "/api/v1/payments")]  # served by api/hot.py, without dependency solving
# FastAPI's own OpenTelemetry instrumentation: off (metrics are prometheus', api/observe.py;
# its per-request checks for a configured provider cost more than the rest of the door)
NO_TELEMETRY = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}

DESCRIPTION = """Wallet, payments and merchant API of Qianbao.

* Amounts are **integer fen** (`amount_fen`: 1 CNY = 100).
* Every write takes a `request_id`: the same id with the same body returns the first result,
  with another body it is `409 IDEMPOTENCY_KEY_REUSED`.
* Errors are `{"code": "...", "message": "..."}` with a stable `code`.
* Authenticate with `Authorization: Bearer <token>`: a user token from `POST /api/v1/sessions`,
  or a merchant / operator API key.
"""


def error_codes(platform: Platform) -> dict[str, list[str]]:
    """Every code a response can carry, by package: the registered enums and the API's own."""
    return {**all_codes(platform.error_codes), "api": sorted(str(c) for c in Code)}


def describe_codes(groups: dict[str, list[str]]) -> str:
    """The error codes as a Markdown section of the OpenAPI description."""
    lines = [
        "",
        "## Error codes",
        "",
        "The stable `code` values, by the package that raises them:",
        "",
    ]
    lines += [
        f"* **{package}**: " + ", ".join(f"`{c}`" for c in codes)
        for package, codes in groups.items()
    ]
    return "\n".join(lines) + "\n"


def _error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> JSONResponse:
    ERRORS.labels(code).inc()
    body = {"code": code, "message": message, **(details or {})}
    return JSONResponse(body, status_code=status, headers=headers)


def _http_error(exc: StarletteHTTPException) -> JSONResponse:
    """Starlette's own answers (no such route, method not allowed) as ``{code, message}`` too."""
    codes = {404: Code.ROUTE_NOT_FOUND, 405: Code.METHOD_NOT_ALLOWED}
    code = codes.get(exc.status_code, f"HTTP_{exc.status_code}")
    response = _error(exc.status_code, code, str(exc.detail))
    response.headers.update(exc.headers or {})
    return response


def _map_errors(app: FastAPI) -> None:
    """Every error as ``{code, message}``: domain errors with their status, bad input as 400 or
    422, Starlette's own answers, and a bug as 500 (logged)."""

    @app.exception_handler(QianbaoError)
    async def domain_error(request: Request, exc: QianbaoError) -> JSONResponse:
        note_error(request, exc.code)
        headers, details = getattr(exc, "headers", None), getattr(exc, "details", None)
        return _error(exc.http_status, exc.code, exc.message, headers, details)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        note_error(request, InvalidArgument.code)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        if first.get("type") == "json_invalid":
            return _error(
                400, Code.BODY_NOT_JSON, f"the body is not valid JSON: {first.get('msg')}"
            )
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return _error(422, InvalidArgument.code, f"{where}: {first.get('msg')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _http_error(exc)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, Code.INTERNAL_ERROR, "internal error; it has been logged")


def create_app(
    platform: Platform,
    *,
    extra_routers: list[Any] | None = None,
    hot_paths: list[tuple[str, str]] = HOT_ROUTES,
) -> FastAPI:
    """The API (and ``extra_routers``); the routes of ``hot_paths`` are served by their
    pre-solved form (``api/hot.py``: the same answers, without FastAPI's per-request work)."""
    app = FastAPI(
        title="Qianbao API",
        version=__version__,
        description=DESCRIPTION + describe_codes(error_codes(platform)),
        telemetry=NO_TELEMETRY,  # type: ignore[arg-type]
        responses={
            400: {"model": ErrorOut},
            401: {"model": ErrorOut},
            403: {"model": ErrorOut},
            404: {"model": ErrorOut},
            409: {"model": ErrorOut},
            422: {"model": ErrorOut},
        },
    )
    app.state.platform = platform
    observe.install(app)

    _map_errors(app)

    @app.get("/healthz", tags=["platform"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "units": len(platform.units), "version": __version__}

    @app.get("/metrics", tags=["platform"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)

    routers = [
        wallet.router,
        merchant.router,
        merchant_batch.router,
        ops.router,
        ops_security.router,
        sessions_api.router,
    ]
    for router in [*routers, *(extra_routers or [])]:
        app.include_router(router)
    app.include_router(risk.router)
    app.include_router(controls.router)  # flow limits, switches, breakers (ADR 0940-0942)
    proxies = tuple((platform.settings.extra.get("risk") or {}).get("trusted_proxies", ()))
    hot = tuple(hot_routes(app, hot_paths))
    # flow limits, risk context, request id and metrics, security headers, audit: api/door.py
    app.add_middleware(Door, platform=platform, trusted_proxies=proxies, hot=hot)
    return app
