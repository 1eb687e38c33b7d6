"""Wallet pages for bill payment (缴费) and transfer to a bank card (转账到卡), and the merchant
centre's payouts: server-rendered forms over the same use cases as the API. The login is the
wallet's (``web/wallet.py`` ``POST /wallet/login``, the cashier's ``qb_user`` cookie) and the page
shape is the wallet's (``web/wallet_shell.py``); every form carries a request id made when it is
shown, so submitting it twice pays once."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao.api.deps import PlatformDep, page_user
from qianbao.api.security import csrf_guard
from qianbao.billpay import service as billpay
from qianbao.members import credentials
from qianbao.payments import service as payments
from qianbao.payments.moneyout import cards, payouts
from qianbao.platform.errors import QianbaoError
from qianbao.platform.money import fen_to_yuan, yuan_to_fen
from qianbao.platform.runtime import Platform
from qianbao.web.wallet_shell import (
    UserCookie,
    new_request_id,
    refused,
    render,
    wallet_user,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])  # every form


@router.get("/wallet/bills", response_class=HTMLResponse)
def bills(
    request: Request,
    p: PlatformDep,
    biller: str = "",
    account: str = "",
    qb_user: UserCookie = None,
) -> HTMLResponse:
    user_id = wallet_user(p, qb_user, "/wallet/bills")
    found, error = [], ""
    if biller and account:
        try:
            found = [
                {**b.__dict__, "amount": fen_to_yuan(b.amount_fen)}
                for b in billpay.lookup(p, biller, account)
            ]
        except QianbaoError as exc:
            error = f"{exc.code}: {exc.message}"
    return render(
        request,
        "wallet_bills.html",
        billers=billpay.list_billers(p),
        biller=biller,
        account=account,
        bills=found,
        error=error,
        request_id=new_request_id(),
        balance=fen_to_yuan(payments.balance(p, user_id)["available_fen"]),
        payments=[billpay.public_payment(r) for r in billpay.list_payments(p, user_id, 10)],
    )


@router.post("/wallet/bills/pay", response_class=HTMLResponse)
def pay_bill(
    request: Request,
    p: PlatformDep,
    biller: Annotated[str, Form(max_length=20)],
    account: Annotated[str, Form(max_length=40)],
    bill_id: Annotated[str, Form(max_length=120)],
    request_id: Annotated[str, Form(max_length=64)],
    pay_password: Annotated[str, Form(max_length=6)],
    qb_user: UserCookie = None,
) -> Response:
    user_id = page_user(p, qb_user)
    if user_id is None:
        return RedirectResponse("/wallet/bills", status_code=303)
    try:
        row = billpay.pay_bill(p, user_id, biller, account, bill_id, request_id, pay_password)
    except QianbaoError as exc:
        return refused(request, exc, back="/wallet/bills")
    receipt = billpay.public_payment(row)
    return render(
        request,
        "wallet_result.html",
        ok=receipt["status"] != "REFUNDED",
        receipt={**receipt, "amount": fen_to_yuan(receipt["amount_fen"])},
        back="/wallet/bills",
    )


@router.get("/wallet/card-transfer", response_class=HTMLResponse)
def card_transfer_form(request: Request, p: PlatformDep, qb_user: UserCookie = None) -> Any:
    user_id = wallet_user(p, qb_user, "/wallet/card-transfer")
    return render(
        request,
        "wallet_card_transfer.html",
        request_id=new_request_id(),
        balance=fen_to_yuan(payments.balance(p, user_id)["available_fen"]),
        free_left=fen_to_yuan(cards.free_left_fen(p, user_id)),
    )


@router.post("/wallet/card-transfer", response_class=HTMLResponse)
def card_transfer(
    request: Request,
    p: PlatformDep,
    card_no: Annotated[str, Form(max_length=23)],
    holder_name: Annotated[str, Form(max_length=80)],
    amount: Annotated[str, Form(max_length=20)],
    request_id: Annotated[str, Form(max_length=64)],
    pay_password: Annotated[str, Form(max_length=6)],
    qb_user: UserCookie = None,
) -> Response:
    user_id = page_user(p, qb_user)
    if user_id is None:
        return RedirectResponse("/wallet/card-transfer", status_code=303)
    try:
        row = cards.transfer_to_card(
            p, user_id, card_no, holder_name, yuan_to_fen(amount), request_id, pay_password
        )
    except QianbaoError as exc:
        return refused(request, exc, back="/wallet/card-transfer")
    out = cards.public_card_transfer(row)
    shown = {**out, "amount": fen_to_yuan(out["amount_fen"]), "fee": fen_to_yuan(out["fee_fen"])}
    return render(
        request,
        "wallet_result.html",
        ok=out["status"] != "FAILED",
        transfer=shown,
        back="/wallet/card-transfer",
    )


# --- the merchant's payouts (the merchant centre's login cookie) ------------------------------
MERCHANT_COOKIE = "qb_merchant"  # the merchant centre's login cookie (api/trades.py)
MerchantCookie = Annotated[str | None, Cookie(alias=MERCHANT_COOKIE)]


def _merchant(p: Platform, cookie: str | None) -> str | None:
    """The merchant of the centre's cookie (a signed reference to its key, never the key)."""
    owner = credentials.owner_of_web_session(p, cookie) if cookie else None
    return owner.id if owner is not None and owner.kind == "merchant" else None


def _payouts_page(request: Request, p: Platform, merchant_id: str, **extra: Any) -> HTMLResponse:
    try:
        account: dict[str, Any] | None = payouts.public_account(
            payouts.settlement_account(p, merchant_id)
        )
    except QianbaoError:
        account = None
    rows = [
        {**o, "amount": fen_to_yuan(o["amount_fen"])}
        for o in map(payouts.public_payout, payouts.list_payouts(p, merchant_id, 20))
    ]
    return render(
        request,
        "merchant_payouts.html",
        status=400 if extra.get("code") else 200,
        account=account,
        balance=fen_to_yuan(payments.merchant_balance(p, merchant_id)["balance_fen"]),
        payouts=rows,
        request_id=new_request_id(),
        **extra,
    )


@router.get("/merchant/payouts", response_class=HTMLResponse)
def merchant_payouts(request: Request, p: PlatformDep, qb_merchant: MerchantCookie = None) -> Any:
    merchant_id = _merchant(p, qb_merchant)
    if merchant_id is None:
        return RedirectResponse("/merchant", status_code=303)
    return _payouts_page(request, p, merchant_id)


@router.post("/merchant/payouts/account", response_class=HTMLResponse)
def merchant_account(
    request: Request,
    p: PlatformDep,
    account_no: Annotated[str, Form(max_length=23)],
    holder_name: Annotated[str, Form(max_length=80)],
    auto_payout: Annotated[str, Form()] = "",
    qb_merchant: MerchantCookie = None,
) -> Any:
    merchant_id = _merchant(p, qb_merchant)
    if merchant_id is None:
        return RedirectResponse("/merchant", status_code=303)
    try:
        payouts.set_settlement_account(
            p, merchant_id, account_no, holder_name, auto_payout=bool(auto_payout)
        )
    except QianbaoError as exc:
        return _payouts_page(request, p, merchant_id, code=exc.code, message=exc.message)
    return _payouts_page(request, p, merchant_id, notice="账户已保存 Account on file")


@router.post("/merchant/payouts", response_class=HTMLResponse)
def merchant_payout(
    request: Request,
    p: PlatformDep,
    amount: Annotated[str, Form(max_length=20)],
    request_id: Annotated[str, Form(max_length=64)],
    qb_merchant: MerchantCookie = None,
) -> Any:
    merchant_id = _merchant(p, qb_merchant)
    if merchant_id is None:
        return RedirectResponse("/merchant", status_code=303)
    try:
        row = payouts.request_payout(p, merchant_id, yuan_to_fen(amount), request_id)
    except QianbaoError as exc:
        return _payouts_page(request, p, merchant_id, code=exc.code, message=exc.message)
    return _payouts_page(request, p, merchant_id, notice=f"提现 Payout {row['status']}")
