"""The one login of every page that signs a user in: the wallet (``POST /wallet/login``), the
cashier (``POST /cashier/login``) and Yu'e Bao (``POST /wallet/yuebao/login``).

Each page declares its form with ``LoginFields`` and calls ``sign_in`` with a function that
shows its own login form. The login is ``members.log_in`` with the client's address and this
browser's ``qb_device`` cookie (``client_of``), so it is throttled per phone and per address like
the API. With step-up codes on (production), a browser the platform does not know gets its form
back asking for the SMS code (``challenge_id`` + ``login-code`` field, ``_login_fields.html``);
the answer signs in and the browser is remembered (HttpOnly ``qb_device``), so it is not asked
again. A refused login (wrong password, wrong code, throttled) shows the form with the message
and the error's 4xx status, and sets no cookie."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Cookie, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao.api.deps import client_of
from qianbao.api.security import set_cookie
from qianbao.members import service as members
from qianbao.members.errors import StepUpRequired
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform

USER_COOKIE = "qb_user"  # the session of the wallet, the cashier and Yu'e Bao pages
DEVICE_COOKIE = "qb_device"  # this browser, once the phone answered for it (no code next time)
DEVICE_COOKIE_MAX_AGE_S = 365 * 86_400
UserCookie = Annotated[str | None, Cookie(alias=USER_COOKIE)]
DEVICE_TOKEN_MAX_CHARS = 200


@dataclass(frozen=True)
class LoginForm:
    """What a login form sends: phone and password, and on a new browser the SMS answer."""

    phone: str
    password: str
    challenge_id: str = ""
    code: str = ""
    device_token: str = ""  # the ``qb_device`` cookie


def login_fields(
    phone: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(max_length=64)],
    challenge_id: Annotated[str, Form(max_length=64)] = "",
    code: Annotated[str, Form(max_length=8)] = "",
    qb_device: Annotated[str | None, Cookie(alias=DEVICE_COOKIE)] = None,
) -> LoginForm:
    device = (qb_device or "")[:DEVICE_TOKEN_MAX_CHARS]
    return LoginForm(phone.strip(), password, challenge_id.strip(), code.strip(), device)


LoginFields = Annotated[LoginForm, Depends(login_fields)]
# The page's login form again: (message, extra context: ``phone`` and, when a code is asked,
# ``challenge_id``) -> the page; ``sign_in`` sets its status.
ShowForm = Callable[[str, dict[str, str]], HTMLResponse]


def sign_in(
    request: Request, p: Platform, form: LoginForm, next_page: str, show: ShowForm
) -> Response:
    """Log in from a page: a redirect to ``next_page`` with the session cookie (and the device
    cookie for a browser the phone just answered for), or the page's form again."""
    client = client_of(request, form.device_token, form.challenge_id, form.code)
    try:
        done = members.log_in(p, form.phone, form.password, client)
    except StepUpRequired as exc:  # a new browser: the form asks for the SMS code as well
        return _shown(show(exc.message, {"phone": form.phone, "challenge_id": exc.challenge_id}))
    except QianbaoError as exc:
        status = exc.http_status if 400 <= exc.http_status < 500 else 400
        return _shown(show(exc.message, {"phone": form.phone}), status)
    response = RedirectResponse(next_page, status_code=303)
    set_cookie(response, USER_COOKIE, done.token, p.settings)  # HttpOnly, SameSite, Secure (prod)
    if done.device_token:
        max_age = DEVICE_COOKIE_MAX_AGE_S
        set_cookie(response, DEVICE_COOKIE, done.device_token, p.settings, max_age=max_age)
    return response


def _shown(page: HTMLResponse, status: int = 200) -> HTMLResponse:
    page.status_code = status
    return page
