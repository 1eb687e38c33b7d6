"""The buyer's trades in the wallet (``/wallet/trades``): each with its status, its detail and
refunds (``/wallet/trades/{trade_no}``, the buyer's own only: anyone else's is 404), and what the
product lets the buyer do next, through the trade use cases and their rules:

- a secured trade (担保交易) that was shipped: confirm receipt with the payment password
  (``secured.confirm_receipt``: the seller is paid);
- a secured trade not yet finished: ask for a refund by opening a dispute (``secured.open_dispute``:
  the money stays frozen until an operator decides it);
- an instant trade: the merchant refunds it (``trades.refund`` is the merchant's call), so the
  page shows the refunds made and no button.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao.api.deps import PlatformDep
from qianbao.api.security import csrf_guard
from qianbao.members import service as members
from qianbao.payments import secured, trades
from qianbao.platform.db import Row
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.web.wallet_shell import UserCookie, refused, render, wallet_user

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])
TRADES = "/wallet/trades"
TRADES_SHOWN = 50
DISPUTABLE = (trades.WAIT_SELLER_SEND_GOODS, trades.WAIT_BUYER_CONFIRM_GOODS)


def _merchant_names(p: Platform, rows: list[Row]) -> dict[str, str]:
    ids = {str(r["merchant_id"]) for r in rows}
    return {m: str(members.get_merchant_cached(p, m)["name"]) for m in ids}


@router.get(TRADES, response_class=HTMLResponse)
def trades_page(request: Request, p: PlatformDep, qb_user: UserCookie = None) -> Response:
    user_id = wallet_user(p, qb_user, TRADES)
    rows = trades.list_buyer_trades(p, user_id, TRADES_SHOWN)
    return render(request, "wallet_trades.html", trades=rows, names=_merchant_names(p, rows))


def _detail(request: Request, p: Platform, trade: Row, **extra: Any) -> HTMLResponse:
    secured_trade = trade["product"] == trades.SECURED
    return render(
        request,
        "wallet_trade.html",
        trade=trade,
        merchant=members.get_merchant_cached(p, trade["merchant_id"])["name"],
        refunds=trades.list_refunds(p, trade["id"]),
        can_confirm=secured_trade and trade["status"] == trades.WAIT_BUYER_CONFIRM_GOODS,
        can_dispute=secured_trade and trade["status"] in DISPUTABLE,
        **extra,
    )


@router.get(TRADES + "/{trade_no}", response_class=HTMLResponse)
def trade_page(
    trade_no: str, request: Request, p: PlatformDep, qb_user: UserCookie = None
) -> Response:
    user_id = wallet_user(p, qb_user, TRADES)
    try:
        trade = trades.get_buyer_trade(p, trade_no[:40], user_id)
    except QianbaoError as exc:
        return refused(request, exc, back=TRADES)
    return _detail(request, p, trade)


@router.post(TRADES + "/{trade_no}/confirm", response_class=HTMLResponse)
def confirm_receipt(
    trade_no: str,
    request: Request,
    p: PlatformDep,
    pay_password: Annotated[str, Form(max_length=6)],
    qb_user: UserCookie = None,
) -> Response:
    user_id = wallet_user(p, qb_user, TRADES)
    try:
        trade = trades.get_buyer_trade(p, trade_no[:40], user_id)
        secured.confirm_receipt(p, user_id, trade["id"], pay_password)
    except QianbaoError as exc:
        return refused(request, exc, back=f"{TRADES}/{trade_no[:40]}")
    return RedirectResponse(f"{TRADES}/{trade['id']}", status_code=303)


@router.post(TRADES + "/{trade_no}/refund-request", response_class=HTMLResponse)
def ask_refund(
    trade_no: str,
    request: Request,
    p: PlatformDep,
    reason: Annotated[str, Form(max_length=200)] = "",
    qb_user: UserCookie = None,
) -> Response:
    user_id = wallet_user(p, qb_user, TRADES)
    try:
        trade = trades.get_buyer_trade(p, trade_no[:40], user_id)
        secured.open_dispute(p, user_id, trade["id"], reason.strip())
    except QianbaoError as exc:
        return refused(request, exc, back=f"{TRADES}/{trade_no[:40]}")
    return RedirectResponse(f"{TRADES}/{trade['id']}", status_code=303)
