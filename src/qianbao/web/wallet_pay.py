"""The wallet's ways to pay: transfer to another user by phone (``/wallet/transfer``), pay a
merchant or its static QR (``/wallet/pay``) and the payment code (付款码, ``/wallet/pay-code``).

Each money form carries the request id it was shown with, so a double submit pays once; the
payment password is checked by the use case (``payments.transfer``, ``trades.pay_static_qr``),
which books through the ledger. The payment code page issues a fresh one-time code (valid 60 s,
``payments.codes``) each time it is shown and reloads itself every 60 s; its QR is an SVG made
here on the server."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from qianbao.api.deps import PlatformDep
from qianbao.api.security import csrf_guard
from qianbao.members import service as members
from qianbao.payments import codes, trades
from qianbao.payments import service as payments
from qianbao.platform.errors import InvalidArgument, QianbaoError
from qianbao.platform.money import yuan_to_fen
from qianbao.web.wallet_shell import (
    UserCookie,
    new_request_id,
    refused,
    render,
    wallet_user,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])
TRANSFER, PAY, PAY_CODE = "/wallet/transfer", "/wallet/pay", "/wallet/pay-code"
STATIC_QR_PATH = "/cashier/m/"  # a merchant's static QR: {base}/cashier/m/{merchant_id}
CODE_REFRESH_S = 60
Amount = Annotated[str, Form(max_length=20)]
RequestId = Annotated[str, Form(max_length=64)]
PayPassword = Annotated[str, Form(max_length=6)]


@router.get(TRANSFER, response_class=HTMLResponse)
def transfer_form(request: Request, p: PlatformDep, qb_user: UserCookie = None) -> Response:
    user_id = wallet_user(p, qb_user, TRANSFER)
    balance = payments.balance(p, user_id)
    return render(request, "wallet_transfer.html", balance=balance, request_id=new_request_id())


@router.post(TRANSFER, response_class=HTMLResponse)
def transfer(
    request: Request,
    p: PlatformDep,
    to_phone: Annotated[str, Form(max_length=20)],
    amount: Amount,
    request_id: RequestId,
    pay_password: PayPassword,
    memo: Annotated[str, Form(max_length=100)] = "",
    qb_user: UserCookie = None,
) -> Response:
    user_id = wallet_user(p, qb_user, TRANSFER)
    try:
        amount_fen = yuan_to_fen(amount.strip())
        payee = members.find_user_by_phone(p, to_phone.strip())
        row = payments.transfer(
            p, user_id, payee["id"], amount_fen, request_id, pay_password, memo.strip()
        )
    except QianbaoError as exc:
        return refused(request, exc, back=TRANSFER)
    shown = payments.public_transfer(row)
    payee_shown = members.public_user(payee)
    return render(request, "wallet_transfer_done.html", transfer=shown, payee=payee_shown)


def merchant_of_qr(text: str) -> str:
    """The merchant of a static QR's link (``…/cashier/m/{merchant_id}``) or of a bare id."""
    text = text.strip()
    path = urlsplit(text).path if "/" in text else STATIC_QR_PATH + text
    if not path.startswith(STATIC_QR_PATH) or not path[len(STATIC_QR_PATH) :].strip("/"):
        raise InvalidArgument("not a merchant's QR link: it looks like …/cashier/m/<merchant>")
    return path[len(STATIC_QR_PATH) :].strip("/")[:40]


@router.get(PAY, response_class=HTMLResponse)
def pay_form(
    request: Request, p: PlatformDep, qr: str = "", qb_user: UserCookie = None
) -> Response:
    user_id = wallet_user(p, qb_user, PAY)
    chosen = ""
    if qr:
        try:
            chosen = str(members.get_merchant_cached(p, merchant_of_qr(qr[:300]))["id"])
        except QianbaoError as exc:
            return refused(request, exc, back=PAY)
    merchants = [{"id": m["id"], "name": m["name"]} for m in members.list_merchants(p)]
    return render(
        request,
        "wallet_pay.html",
        merchants=merchants,
        chosen=chosen,
        balance=payments.balance(p, user_id),
        request_id=new_request_id(),
    )


@router.post(PAY, response_class=HTMLResponse)
def pay(
    request: Request,
    p: PlatformDep,
    amount: Amount,
    request_id: RequestId,
    pay_password: PayPassword,
    merchant_id: Annotated[str, Form(max_length=40)] = "",
    qr: Annotated[str, Form(max_length=300)] = "",
    qb_user: UserCookie = None,
) -> Response:
    user_id = wallet_user(p, qb_user, PAY)
    try:
        merchant = merchant_of_qr(qr) if qr.strip() else merchant_id.strip()
        if not merchant:
            raise InvalidArgument("choose a merchant or paste its QR link")
        amount_fen = yuan_to_fen(amount.strip())
        trade = trades.pay_static_qr(p, merchant, user_id, amount_fen, pay_password, request_id)
    except QianbaoError as exc:
        return refused(request, exc, back=PAY)
    return RedirectResponse(f"/wallet/trades/{trade['id']}", status_code=303)


@router.get(PAY_CODE, response_class=HTMLResponse)
def pay_code(request: Request, p: PlatformDep, qb_user: UserCookie = None) -> Response:
    user_id = wallet_user(p, qb_user, PAY_CODE)
    try:
        code = codes.issue_payment_code(p, user_id)
    except QianbaoError as exc:
        return refused(request, exc, back="/wallet")
    qr = Markup(codes.qr_svg(str(code["code"])).split("?>", 1)[-1])  # our own SVG, no prolog
    response = render(
        request, "wallet_pay_code.html", code=code, qr_svg=qr, refresh_s=CODE_REFRESH_S
    )
    response.headers["Cache-Control"] = "no-store"  # a one-time code: never from a cache
    return response
