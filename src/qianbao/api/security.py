"""Page security: security headers on every response, CSRF tokens on every form, cookie flags.

- **Headers** (every response): ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
  no-referrer`` (a cashier pay link carries its token: it must not leak to another site),
  ``X-Frame-Options: DENY`` and a ``Content-Security-Policy`` whose ``frame-ancestors 'none'``
  stops click-jacking of the cashier; pages get ``default-src 'self'`` and no script at all (the
  API docs, which load Swagger UI, keep only ``frame-ancestors``); ``Cache-Control: no-store``
  on pages and the API (balances, sessions, keys); ``Strict-Transport-Security`` in production.
- **CSRF**: a page response sets a random ``qb_csrf`` cookie once (HttpOnly, SameSite=Lax);
  every form carries ``csrf_token`` = HMAC(secret key, that cookie), which a cross-site page can
  neither read nor compute. ``csrf_guard`` (a dependency of the page routers) refuses a POST
  whose token does not match, or whose ``Origin`` is another site, with 403
  ``CSRF_TOKEN_INVALID`` before the form is acted on. The JSON API is not cookie-authenticated
  (a bearer header is never sent by a browser on its own), so it needs no token.
- **Cookies** (``set_cookie``): HttpOnly, SameSite, and Secure in production.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from http.cookies import SimpleCookie
from typing import Any

from fastapi import Request
from starlette.responses import Response
from starlette.types import Message, Scope

from qianbao.api.errors import CsrfTokenInvalid
from qianbao.platform.settings import Settings

CSRF_COOKIE, CSRF_FIELD = "qb_csrf", "csrf_token"
_COOKIE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32}$")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NOT_PAGES = ("/api/", "/gateway.do", "/healthz", "/metrics", "/openapi.json")
DOCS = ("/docs", "/redoc")
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
    " script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self';"
    " frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = "frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"


def csrf_token_for(secret_key: str, cookie: str) -> str:
    return hmac.new(secret_key.encode(), b"csrf|" + cookie.encode(), hashlib.sha256).hexdigest()


def _cookie(scope: Scope, name: str) -> str:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: BLE001 - a malformed cookie header is just no cookie
                continue
            if name in jar:
                return jar[name].value
    return ""


def _kind(path: str) -> str:
    if path.startswith(DOCS):
        return "docs"
    return "api" if path.startswith(NOT_PAGES) else "page"


def cookie_header(name: str, value: str, settings: Settings, *, samesite: str, max_age: int) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", f"SameSite={samesite}"]
    parts.append(f"Max-Age={max_age}")
    if settings.production:
        parts.append("Secure")
    return "; ".join(parts)


class PageSecurity:
    """The headers, and the CSRF cookie and token (``request.state.csrf_token``) of pages, for
    the door (``api/door.py``): ``prepare`` before the request is served, ``decorate`` its
    response's start message."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._defaults = {kind: _defaults(kind, settings) for kind in ("page", "api", "docs")}

    def prepare(self, scope: Scope) -> tuple[str, str]:
        """The response kind of the path, and the new CSRF cookie a page sets ("" if none)."""
        kind = _kind(scope["path"])
        fresh = ""
        if kind == "page":
            cookie = _cookie(scope, CSRF_COOKIE)
            if not _COOKIE_SHAPE.match(cookie):
                cookie = fresh = secrets.token_urlsafe(24)
            state: dict[str, Any] = scope.setdefault("state", {})
            state["csrf_token"] = csrf_token_for(self.settings.secret_key, cookie)
        return kind, fresh

    def decorate(
        self, message: Message, kind: str, fresh: str, extra: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        """Each default header the response does not set itself (``setdefault``), then
        ``extra``, appended to the raw header list at once (a ``MutableHeaders.setdefault``
        rescans it each time)."""
        raw = list(message.get("headers", ()))
        present = {name.lower() for name, _ in raw}
        raw += [(name, value) for name, value in self._defaults[kind] if name not in present]
        if fresh:
            cookie = cookie_header(
                CSRF_COOKIE, fresh, self.settings, samesite="Lax", max_age=86_400
            )
            raw.append((b"set-cookie", cookie.encode("latin-1")))
        raw += extra
        message["headers"] = raw


def _defaults(kind: str, settings: Settings) -> list[tuple[bytes, bytes]]:
    """The security headers of a response of ``kind`` (page, api, docs), as raw header pairs."""
    csp = {"page": PAGE_CSP, "api": API_CSP, "docs": DOCS_CSP}[kind]
    headers = [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("content-security-policy", csp),
    ]
    if kind != "docs":
        headers.append(("cache-control", "no-store"))
    if settings.production:
        headers.append(("strict-transport-security", HSTS))
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def _same_origin(request: Request) -> bool:
    """No sign of another site: ``Sec-Fetch-Site`` is not cross-site, and an ``Origin`` that
    names a site names this one. (Under ``Referrer-Policy: no-referrer`` a browser sends
    ``Origin: null`` even for its own forms: that says nothing, and the token decides.)"""
    if request.headers.get("sec-fetch-site", "") in ("cross-site", "same-site"):
        return False
    origin = request.headers.get("origin", "null")
    if origin == "null":
        return True
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


async def csrf_guard(request: Request) -> None:
    """A page POST must carry the form token of its CSRF cookie and come from this site."""
    if request.method in SAFE_METHODS:
        return
    expected = getattr(request.state, "csrf_token", "")
    form = await request.form()
    given = form.get(CSRF_FIELD)
    if not expected or not isinstance(given, str) or not hmac.compare_digest(given, expected):
        raise CsrfTokenInvalid("the form's CSRF token is missing or stale: reload the page")
    if not _same_origin(request):
        raise CsrfTokenInvalid("the form was posted from another site")


def set_cookie(
    response: Response,
    name: str,
    value: str,
    settings: Settings,
    *,
    samesite: str = "lax",
    max_age: int | None = None,
) -> None:
    """HttpOnly, SameSite and (in production) Secure, for every cookie a page sets."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite=samesite,  # type: ignore[arg-type]
        secure=settings.production,
        max_age=max_age,
        path="/",
    )
