"""The one shape of a wallet page: the ``qb_user`` login cookie, the login form where it is
missing (the page's own URL is where the form returns), a template rendered with the wallet
menu (``_wallet_menu.html``, shown by ``base.html`` on every ``/wallet`` page), and the page of a
refused request: its error code and message with the code's 4xx status, nothing changed.

A wallet page handler reads::

    user_id = wallet_user(p, qb_user, "/wallet/…")  # no session: the app shows the login form
    try: ... except QianbaoError as exc: return refused(request, exc, back="/wallet/…")
    return render(request, "wallet_….html", …)
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from qianbao.api.deps import page_user
from qianbao.api.page_login import USER_COOKIE, UserCookie
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.web.templating import page, when

__all__ = [
    "USER_COOKIE",
    "LoginNeeded",
    "UserCookie",
    "login_form",
    "new_request_id",
    "refused",
    "render",
    "wallet_user",
    "when",
]


class LoginNeeded(Exception):
    """A wallet page was asked for without a signed-in user: the app answers with the login
    form returning to ``next_page`` (``login_needed``), and nothing was done."""

    def __init__(self, next_page: str) -> None:
        super().__init__(next_page)
        self.next_page = next_page


def wallet_user(p: Platform, qb_user: str | None, next_page: str) -> str:
    """The user of the page's ``qb_user`` cookie; ``LoginNeeded`` when there is none (or the
    session ended)."""
    user_id = page_user(p, qb_user)
    if not user_id:
        raise LoginNeeded(next_page)
    return user_id


def login_needed(request: Request, exc: Exception) -> HTMLResponse:
    """The app's answer to ``LoginNeeded``: the login form, returning to the page asked for."""
    assert isinstance(exc, LoginNeeded)
    return login_form(request, exc.next_page)


def new_request_id() -> str:
    """The idempotency key a money form carries from the moment it is shown: submitting the
    same form twice is one request."""
    return uuid.uuid4().hex


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    return page(request, name, ctx, status)


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
