"""Money out over HTTP: a merchant's settlement account and payouts (API key), and a user's
transfers to any bank card (user token). Amounts are integer fen; a replayed ``request_id``
answers the first result."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StrictBool, StrictInt

from qianbao.api.deps import MerchantId, PlatformDep, UserId
from qianbao.api.models import Body, RequestId
from qianbao.payments.moneyout import cards, payouts

router = APIRouter(prefix="/api/v1/merchant", tags=["merchant payouts"])
card_router = APIRouter(prefix="/api/v1/card-transfers", tags=["transfer to card"])
routers = [router, card_router]


class SettlementAccountIn(Body):
    account_no: str = Field(min_length=12, max_length=23, examples=["6225880000000001"])
    holder_name: str = Field(min_length=2, max_length=80, examples=["杭州某某商贸有限公司"])
    auto_payout: StrictBool = Field(False, description="Pay the whole balance out every day")


class SettlementAccountOut(BaseModel):
    channel: str
    account: str
    holder_name: str
    auto_payout: bool
    updated_at_ms: int


class PayoutIn(Body):
    amount_fen: StrictInt = Field(examples=[100_00])
    request_id: str = RequestId


class MoneyOutOut(BaseModel):
    order_id: str
    kind: str
    request_id: str
    account: str = Field(description="The account or card, masked")
    holder_name: str
    amount_fen: int
    fee_fen: int
    free_used_fen: int
    memo: str
    status: str = Field(description="PENDING, SUCCEEDED, or FAILED (the debit reversed)")
    created_at_ms: int
    updated_at_ms: int


class CardTransferIn(Body):
    card_no: str = Field(min_length=12, max_length=23, examples=["6225880000000001"])
    holder_name: str = Field(min_length=2, max_length=80, examples=["李四"])
    amount_fen: StrictInt = Field(examples=[500_00])
    request_id: str = RequestId
    pay_password: str | None = Field(None, min_length=6, max_length=6)
    memo: str = Field("", max_length=100)


class CardFeeOut(BaseModel):
    amount_fen: int
    fee_fen: int
    free_used_fen: int
    free_left_fen: int = Field(description="Free allowance left this month after this transfer")


@router.put(
    "/settlement-account",
    response_model=SettlementAccountOut,
    summary="Put the bank account for payouts on file (the bank confirms the holder)",
)
def put_account(body: SettlementAccountIn, p: PlatformDep, merchant_id: MerchantId) -> Any:
    row = payouts.set_settlement_account(
        p, merchant_id, body.account_no, body.holder_name, auto_payout=body.auto_payout
    )
    return payouts.public_account(row)


@router.get("/settlement-account", response_model=SettlementAccountOut)
def get_account(p: PlatformDep, merchant_id: MerchantId) -> Any:
    return payouts.public_account(payouts.settlement_account(p, merchant_id))


@router.post(
    "/payouts",
    response_model=MoneyOutOut,
    summary="Pay the settlement balance out to the account on file (商户提现)",
    responses={503: {"description": "FUNDS_IN_TRANSIT: money between units, retry"}},
)
def payout(body: PayoutIn, p: PlatformDep, merchant_id: MerchantId) -> Any:
    return payouts.public_payout(
        payouts.request_payout(p, merchant_id, body.amount_fen, body.request_id)
    )


@router.get("/payouts", response_model=list[MoneyOutOut], summary="Payouts, newest first")
def list_payouts(
    p: PlatformDep, merchant_id: MerchantId, limit: int = Query(100, ge=1, le=1000)
) -> Any:
    return [payouts.public_payout(r) for r in payouts.list_payouts(p, merchant_id, limit)]


@router.get(
    "/payouts/{order_id}",
    response_model=MoneyOutOut,
    summary="A payout; a pending one is re-asked at the bank",
)
def get_payout(order_id: str, p: PlatformDep, merchant_id: MerchantId) -> Any:
    return payouts.public_payout(payouts.get_payout(p, merchant_id, order_id))


@card_router.get("/fee", response_model=CardFeeOut, summary="The fee a transfer would cost now")
def fee(p: PlatformDep, user_id: UserId, amount_fen: int = Query(..., ge=1)) -> Any:
    return cards.quote_fee(p, user_id, amount_fen)


@card_router.post(
    "", response_model=MoneyOutOut, summary="Transfer from the balance to any bank card (转账到卡)"
)
def transfer(body: CardTransferIn, p: PlatformDep, user_id: UserId) -> Any:
    row = cards.transfer_to_card(
        p,
        user_id,
        body.card_no,
        body.holder_name,
        body.amount_fen,
        body.request_id,
        body.pay_password,
        body.memo,
    )
    return cards.public_card_transfer(row)


@card_router.get("", response_model=list[MoneyOutOut], summary="Card transfers, newest first")
def list_transfers(p: PlatformDep, user_id: UserId, limit: int = Query(100, ge=1, le=1000)) -> Any:
    return [cards.public_card_transfer(r) for r in cards.list_card_transfers(p, user_id, limit)]


@card_router.get("/{order_id}", response_model=MoneyOutOut)
def get_transfer(order_id: str, p: PlatformDep, user_id: UserId) -> Any:
    return cards.public_card_transfer(cards.get_card_transfer(p, user_id, order_id))
