"""Wallet pages for red packets and notifications (server-rendered, no script needed): log in,
send a red packet to a group or a person, open and claim one, read my notices and set my
preferences. The session is the same ``qb_user`` cookie the cashier uses."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao.api.deps import PlatformDep
from qianbao.api.page_login import LoginFields, sign_in
from qianbao.api.security import csrf_guard
from qianbao.members import service as members
from qianbao.notices import prefs as notice_prefs
from qianbao.notices import service as notices
from qianbao.platform.errors import QianbaoError
from qianbao.platform.money import yuan_to_fen
from qianbao.platform.runtime import Platform
from qianbao.redpackets import claims
from qianbao.redpackets import service as redpackets
from qianbao.web.templating import page
from qianbao.web.wallet_shell import UserCookie, login_form, wallet_user

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])  # every form
PAGES = ("/wallet/red-packets", "/wallet/notices")


@router.post("/wallet/login")
def wallet_login(
    request: Request,
    p: PlatformDep,
    form: LoginFields,
    next: Annotated[str, Form(max_length=200)] = PAGES[0],
) -> Response:
    """Log in (``api/page_login.py``: throttled per phone and address; a new browser answers
    the SMS code when step-up codes are on)."""
    if next != "/wallet" and not next.startswith("/wallet/"):
        next = PAGES[0]
    back = next[:200]

    def again(error: str, ctx: dict[str, str]) -> HTMLResponse:
        return login_form(request, back, error, **ctx)

    return sign_in(request, p, form, back, again)


def _home(
    request: Request, p: Platform, user_id: str, error: str = "", code: str = ""
) -> HTMLResponse:
    context: dict[str, Any] = {
        "me": members.get_user(p, user_id),
        "groups": redpackets.my_groups(p, user_id),
        "sent": claims.sent_by(p, user_id, 20),
        "request_id": secrets.token_hex(8),
        "error": error,
        "code": code,
    }
    return page(request, "wallet_redpackets.html", context)


@router.get("/wallet/red-packets", response_class=HTMLResponse)
def red_packets_page(request: Request, p: PlatformDep, qb_user: UserCookie = None) -> Response:
    user_id = wallet_user(p, qb_user, PAGES[0])
    return _home(request, p, user_id)


def _send_form(p: Platform, form: dict[str, str]) -> dict[str, Any]:
    """The use case's arguments from the form (a phone number makes it a personal packet)."""
    recipient = None
    if form["to_phone"].strip():
        recipient = str(members.find_user_by_phone(p, form["to_phone"].strip())["id"])
    kind = "PERSONAL" if recipient else form["kind"]
    return {
        "kind": kind,
        "amount_fen": yuan_to_fen(form["amount"]),
        "shares": int(form["shares"]) if form["shares"].strip().isdigit() else 0,
        "recipient_id": recipient,
        "group_id": None if recipient else form["group_id"] or None,
        "message": form["message"],
        "request_id": form["request_id"],
        "pay_password": form["pay_password"] or None,
    }


@router.post("/wallet/red-packets", response_class=HTMLResponse)
def send_red_packet(
    request: Request,
    p: PlatformDep,
    amount: Annotated[str, Form(max_length=20)],
    request_id: Annotated[str, Form(max_length=64)],
    kind: Annotated[str, Form(max_length=10)] = "RANDOM",
    shares: Annotated[str, Form(max_length=4)] = "1",
    group_id: Annotated[str, Form(max_length=40)] = "",
    to_phone: Annotated[str, Form(max_length=20)] = "",
    message: Annotated[str, Form(max_length=40)] = "",
    pay_password: Annotated[str, Form(max_length=6)] = "",
    qb_user: UserCookie = None,
) -> Response:
    user_id = wallet_user(p, qb_user, PAGES[0])
    form = {"amount": amount, "request_id": request_id, "kind": kind, "shares": shares}
    form |= {"group_id": group_id, "to_phone": to_phone, "message": message}
    form["pay_password"] = pay_password
    try:
        packet = redpackets.send(p, user_id, **_send_form(p, form))
    except QianbaoError as exc:
        return _home(request, p, user_id, exc.message, str(exc.code))
    return RedirectResponse(f"/wallet/red-packets/{packet['packet_id']}", status_code=303)


def _packet_page(
    request: Request, p: Platform, user_id: str, packet_id: str, **extra: Any
) -> HTMLResponse:
    try:
        packet = claims.get_packet(p, packet_id, user_id)
    except QianbaoError as exc:
        missing: dict[str, Any] = {"packet": None, "error": exc.message, "code": str(exc.code)}
        return page(request, "wallet_packet.html", missing, 404)
    mine = next((c for c in packet["claims"] if c["claimer_id"] == user_id), None)
    context: dict[str, Any] = {"packet": packet, "mine": mine, "user_id": user_id, **extra}
    return page(request, "wallet_packet.html", context)


@router.get("/wallet/red-packets/{packet_id}", response_class=HTMLResponse)
def red_packet_page(
    packet_id: str, request: Request, p: PlatformDep, qb_user: UserCookie = None
) -> Response:
    user_id = wallet_user(p, qb_user, f"/wallet/red-packets/{packet_id}"[:200])
    return _packet_page(request, p, user_id, packet_id)


@router.post("/wallet/red-packets/{packet_id}/claim", response_class=HTMLResponse)
def claim_page(
    packet_id: str, request: Request, p: PlatformDep, qb_user: UserCookie = None
) -> Response:
    user_id = wallet_user(p, qb_user, f"/wallet/red-packets/{packet_id}"[:200])
    try:
        claims.claim(p, packet_id, user_id)
    except QianbaoError as exc:
        return _packet_page(request, p, user_id, packet_id, error=exc.message, code=str(exc.code))
    return _packet_page(request, p, user_id, packet_id)


def _notices_page(request: Request, p: Platform, user_id: str, error: str = "") -> HTMLResponse:
    context = {
        "notices": notices.list_notices(p, user_id),
        "prefs": notice_prefs.get_prefs(p, user_id),
        "error": error,
    }
    return page(request, "wallet_notices.html", context)


@router.get("/wallet/notices", response_class=HTMLResponse)
def notices_page(request: Request, p: PlatformDep, qb_user: UserCookie = None) -> Response:
    user_id = wallet_user(p, qb_user, PAGES[1])
    return _notices_page(request, p, user_id)


@router.post("/wallet/notices/prefs", response_class=HTMLResponse)
def prefs_form(
    request: Request,
    p: PlatformDep,
    language: Annotated[str, Form(max_length=4)],
    channel: Annotated[str, Form(max_length=8)],
    quiet_start: Annotated[str, Form(max_length=5)],
    quiet_end: Annotated[str, Form(max_length=5)],
    email: Annotated[str, Form(max_length=120)] = "",
    qb_user: UserCookie = None,
) -> Response:
    user_id = wallet_user(p, qb_user, PAGES[1])
    changes = {"language": language, "channel": channel, "email": email.strip()}
    changes |= {"quiet_start": quiet_start, "quiet_end": quiet_end}
    try:
        notice_prefs.set_prefs(p, user_id, **changes)
    except QianbaoError as exc:
        return _notices_page(request, p, user_id, exc.message)
    return _notices_page(request, p, user_id)
