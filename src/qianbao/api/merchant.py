"""Merchant endpoints (API key): its payments, balance and refunds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from qianbao.api.deps import MerchantId, PlatformDep, mark_stale
from qianbao.api.models import PaymentOut, RefundIn, RefundOut
from qianbao.payments import service as payments

router = APIRouter(prefix="/api/v1/merchant", tags=["merchant"])


@router.get("/balance", summary="Settlement balance over all units")
def balance(p: PlatformDep, merchant_id: MerchantId) -> dict[str, Any]:
    return payments.merchant_balance(p, merchant_id)


@router.get("/activity", summary="Payments and refunds, newest first")
def activity(
    p: PlatformDep,
    merchant_id: MerchantId,
    response: Response,
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    rows, age_s = p.controls.served_stale(
        f"activity|{merchant_id}|{limit}",
        lambda: [dict(r) for r in payments.merchant_activity(p, merchant_id, limit)],
    )
    mark_stale(response, age_s)  # switch activity.stale: a cached list while at peak
    return rows


@router.get("/payments/{payment_id}", response_model=PaymentOut)
def payment(payment_id: str, p: PlatformDep, merchant_id: MerchantId) -> dict[str, Any]:
    return payments.public_payment(payments.get_payment(p, payment_id, merchant_id))


@router.post(
    "/payments/{payment_id}/refunds",
    response_model=RefundOut,
    summary="Refund a payment, fully or in part",
)
def refund(
    payment_id: str, body: RefundIn, p: PlatformDep, merchant_id: MerchantId
) -> dict[str, Any]:
    row = payments.refund(p, merchant_id, payment_id, body.amount_fen, body.request_id, body.reason)
    return payments.public_refund(row)


@router.get("/payments/{payment_id}/refunds", response_model=list[RefundOut])
def refunds(payment_id: str, p: PlatformDep, merchant_id: MerchantId) -> list[dict[str, Any]]:
    return [payments.public_refund(r) for r in payments.list_refunds(p, payment_id, merchant_id)]
