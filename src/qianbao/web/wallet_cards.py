"""The wallet's bank cards (``/wallet/cards``): the bound cards, binding a new one, top-up from a
card (充值) and withdrawal to one (提现), and the user's bank orders with their status. Each
money form goes through the payments use cases (``payments.topup`` / ``withdraw``: the bank
channel, the risk check, the ledger) with the request id it was shown with, and then shows the
order (``/wallet/bank-orders/{id}``): a PENDING one stays pending until the bank answers (the
page asks the bank again when it is opened, as the API does)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao.api.deps import PlatformDep
from qianbao.api.security import csrf_guard
from qianbao.members import service as members
from qianbao.payments import queries as wallet_reads
from qianbao.payments import service as payments
from qianbao.platform.errors import QianbaoError
from qianbao.platform.money import yuan_to_fen
from qianbao.platform.runtime import Platform
from qianbao.web.wallet_shell import (
    UserCookie,
    new_request_id,
    refused,
    render,
    wallet_user,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])
CARDS = "/wallet/cards"
ORDERS_SHOWN = 20
CardId = Annotated[str, Form(max_length=40)]
Amount = Annotated[str, Form(max_length=20)]
RequestId = Annotated[str, Form(max_length=64)]


def _cards_page(request: Request, p: Platform, user_id: str, **extra: Any) -> HTMLResponse:
    return render(
        request,
        "wallet_cards.html",
        cards=[members.public_card(c) for c in members.list_cards(p, user_id)],
        orders=wallet_reads.bank_orders_of(p, user_id, ORDERS_SHOWN),
        balance=payments.balance(p, user_id),
        topup_request_id=new_request_id(),
        withdraw_request_id=new_request_id(),
        **extra,
    )


@router.get(CARDS, response_class=HTMLResponse)
def cards_page(request: Request, p: PlatformDep, qb_user: UserCookie = None) -> Response:
    user_id = wallet_user(p, qb_user, CARDS)
    return _cards_page(request, p, user_id)


@router.post(CARDS, response_class=HTMLResponse)
def bind_card(
    request: Request,
    p: PlatformDep,
    card_no: Annotated[str, Form(max_length=23)],
    qb_user: UserCookie = None,
) -> Response:
    user_id = wallet_user(p, qb_user, CARDS)
    try:
        card = members.bind_card(p, user_id, card_no.strip())
    except QianbaoError as exc:
        return refused(request, exc, back=CARDS)
    notice = f"已绑定 Card bound: {members.public_card(card)['card']}"
    return _cards_page(request, p, user_id, notice=notice)


@router.post("/wallet/topup", response_class=HTMLResponse)
def topup(
    request: Request,
    p: PlatformDep,
    card_id: CardId,
    amount: Amount,
    request_id: RequestId,
    qb_user: UserCookie = None,
) -> Response:
    user_id = wallet_user(p, qb_user, CARDS)
    try:
        order = payments.topup(p, user_id, card_id, yuan_to_fen(amount.strip()), request_id)
    except QianbaoError as exc:
        return refused(request, exc, back=CARDS)
    return RedirectResponse(f"/wallet/bank-orders/{order['id']}", status_code=303)


@router.post("/wallet/withdraw", response_class=HTMLResponse)
def withdraw(
    request: Request,
    p: PlatformDep,
    card_id: CardId,
    amount: Amount,
    request_id: RequestId,
    pay_password: Annotated[str, Form(max_length=6)],
    qb_user: UserCookie = None,
) -> Response:
    user_id = wallet_user(p, qb_user, CARDS)
    try:
        amount_fen = yuan_to_fen(amount.strip())
        order = payments.withdraw(p, user_id, card_id, amount_fen, request_id, pay_password)
    except QianbaoError as exc:
        return refused(request, exc, back=CARDS)
    return RedirectResponse(f"/wallet/bank-orders/{order['id']}", status_code=303)


@router.get("/wallet/bank-orders/{order_id}", response_class=HTMLResponse)
def bank_order_page(
    order_id: str, request: Request, p: PlatformDep, qb_user: UserCookie = None
) -> Response:
    user_id = wallet_user(p, qb_user, CARDS)
    try:
        order = payments.get_bank_order(p, user_id, order_id[:40])
    except QianbaoError as exc:
        return refused(request, exc, back=CARDS)
    return render(request, "wallet_bank_order.html", order=order)
