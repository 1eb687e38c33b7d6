"""The one shape of a wallet page: the ``qb_user`` login cookie, the login form where it is
missing (the page's own URL is where the form returns), a template rendered with the wallet
menu (``_wallet_menu.html``, shown by ``base.html`` on every ``/wallet`` page), and the page of a
refused request: its error code and message with the code's 4xx status, nothing changed.

A wallet page handler reads::

    user_id = page_user(p, qb_user)
    if user_id is None:
        return login_form(request, "/wallet/…")
    try: ... except QianbaoError as exc: return refused(request, exc, back="/wallet/…")
    return render(request, "wallet_….html", …)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from qianbao.api.page_login import USER_COOKIE, UserCookie
from qianbao.platform.clock import TZ
from qianbao.platform.errors import QianbaoError
from qianbao.platform.money import fen_to_yuan

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
__all__ = ["USER_COOKIE", "UserCookie", "login_form", "new_request_id", "refused", "render", "when"]


def when(at_ms: int | None) -> str:
    """A moment for a page, on the platform's business clock to the second ("" for none)."""
    if at_ms is None:
        return ""
    return datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")


templates.env.filters["yuan"] = fen_to_yuan
templates.env.filters["when"] = when


def new_request_id() -> str:
    """The idempotency key a money form carries from the moment it is shown: submitting the
    same form twice is one request."""
    return uuid.uuid4().hex


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, ctx, status_code=status)


def login_form(request: Request, next_page: str, error: str = "", **extra: Any) -> HTMLResponse:
    """The wallet's login form, returning to ``next_page`` (``POST /wallet/login``); after a
    refused login it says why, and on a new browser it asks for the SMS code
    (``api/page_login.py``)."""
    return render(request, "wallet_login.html", next=next_page[:200], error=error, **extra)


def refused(request: Request, exc: QianbaoError, back: str) -> HTMLResponse:
    """What a refused request shows: the code and the message, with the code's 4xx status."""
    status = exc.http_status if 400 <= exc.http_status < 500 else 400
    ctx = {"ok": False, "code": str(exc.code), "message": exc.message, "back": back}
    challenge = getattr(exc, "challenge_id", None)  # STEP_UP_REQUIRED: answer the SMS code
    return render(request, "wallet_result.html", status, challenge_id=challenge, **ctx)
