"""User endpoints: registration, login, cards, balance, statement, money movements."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response

from qianbao.api.deps import PlatformDep, UserId, client_of, mark_stale
from qianbao.api.models import (
    BalanceOut,
    BankOrderOut,
    CardIn,
    CardOut,
    ErrorOut,
    LoginIn,
    LoginOut,
    PasswordFreeIn,
    PayIn,
    PaymentOut,
    RegisterIn,
    StatementLine,
    TopupIn,
    TransferIn,
    TransferOut,
    UserOut,
    WithdrawIn,
)
from qianbao.ledger import service as ledger
from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.platform.errors import InvalidArgument

router = APIRouter(prefix="/api/v1", tags=["wallet"])


@router.post("/users", status_code=201, response_model=UserOut, summary="Register a real-name user")
def register(body: RegisterIn, p: PlatformDep) -> dict[str, Any]:
    return members.public_user(members.register_user(p, members.NewUser(**body.model_dump())))


@router.post(
    "/sessions",
    response_model=LoginOut,
    summary="Log in with phone and password (throttled, never locked: 429 with Retry-After)",
    responses={429: {"model": ErrorOut}},
)
def login(body: LoginIn, request: Request, p: PlatformDep) -> dict[str, Any]:
    client = client_of(request, body.device_token, body.challenge_id, body.code)
    done = members.log_in(p, body.phone, body.password, client)
    return {
        "token": done.token,
        "user": members.public_user(done.user),
        "session_id": done.session_id,
        "device_token": done.device_token,
    }


@router.get("/me", response_model=UserOut)
def me(p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return members.public_user(members.get_user(p, user_id))


@router.put(
    "/me/password-free-limit",
    response_model=UserOut,
    summary="Set the small-amount password-free limit (小额免密)",
)
def password_free(body: PasswordFreeIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    members.set_password_free_limit(p, user_id, body.limit_fen, body.pay_password)
    return members.public_user(members.get_user(p, user_id))


@router.post("/me/cards", status_code=201, response_model=CardOut, summary="Bind a bank card")
def bind_card(body: CardIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return members.public_card(members.bind_card(p, user_id, body.card_no, body.channel))


@router.get("/me/cards", response_model=list[CardOut])
def cards(p: PlatformDep, user_id: UserId) -> list[dict[str, Any]]:
    return [members.public_card(c) for c in members.list_cards(p, user_id)]


@router.get("/me/balance", response_model=BalanceOut)
def balance(p: PlatformDep, user_id: UserId) -> dict[str, int]:
    return payments.balance(p, user_id)


@router.get(
    "/me/statement",
    response_model=list[StatementLine],
    summary="Wallet postings, newest first, with running balance",
)
def statement(
    p: PlatformDep,
    user_id: UserId,
    response: Response,
    limit: int = Query(50, ge=1, le=500),
    before: int | None = Query(None, ge=1, le=2**62),
) -> list[dict[str, Any]]:
    lines, age_s = p.controls.served_stale(
        f"statement|{user_id}|{limit}|{before}",
        lambda: ledger.statement(p.db_for(user_id), payments.user_account(user_id), limit, before),
    )
    mark_stale(response, age_s)  # switch activity.stale: a cached statement while at peak
    return lines


@router.post("/topups", response_model=BankOrderOut, summary="Top up from a bound card (充值)")
def topup(body: TopupIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    order = payments.topup(p, user_id, body.card_id, body.amount_fen, body.request_id)
    return payments.public_bank_order(order)


@router.post("/withdrawals", response_model=BankOrderOut, summary="Withdraw to a bound card (提现)")
def withdraw(body: WithdrawIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    order = payments.withdraw(
        p, user_id, body.card_id, body.amount_fen, body.request_id, body.pay_password
    )
    return payments.public_bank_order(order)


@router.get(
    "/bank-orders/{order_id}",
    response_model=BankOrderOut,
    summary="A top-up or withdrawal; a pending one is re-queried at the bank",
)
def bank_order(order_id: str, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return payments.public_bank_order(payments.get_bank_order(p, user_id, order_id))


@router.post("/transfers", response_model=TransferOut, summary="Transfer to another user (free)")
def transfer(body: TransferIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    if (body.to_user_id is None) == (body.to_phone is None):
        raise InvalidArgument("give exactly one of to_user_id and to_phone")
    to_user = body.to_user_id or members.find_user_by_phone(p, body.to_phone or "")["id"]
    p.controls.check("payee", to_user)  # a hot payee (a red-envelope king) has its own limit
    row = payments.transfer(
        p, user_id, to_user, body.amount_fen, body.request_id, body.pay_password, body.memo
    )
    return payments.public_transfer(row)


@router.post("/payments", response_model=PaymentOut, summary="Pay a merchant (instant)")
async def pay(body: PayIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    p.controls.check("merchant", body.merchant_id)  # a hot merchant's own limit
    row = await payments.pay_merchant_async(
        p,
        user_id,
        body.merchant_id,
        body.amount_fen,
        body.request_id,
        body.pay_password,
        body.memo,
        funding=body.funding,
    )
    return payments.public_payment(row)


@router.get("/payments/{payment_id}", response_model=PaymentOut)
def payment(payment_id: str, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return payments.public_payment(payments.get_payment(p, payment_id, user_id))
