"""Bill payment over HTTP (缴费): billers, looking a bill up, paying it (receipt), automatic
payment agreements (user token); registering billers and the daily reconciliation (operator)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictInt

from qianbao.api.deps import Operator, PlatformDep, UserId
from qianbao.api.models import Body, RequestId
from qianbao.billpay import autopay, reconcile
from qianbao.billpay import service as billpay

router = APIRouter(prefix="/api/v1/billpay", tags=["bill payment"])
ops_router = APIRouter(prefix="/api/v1/ops/billpay", tags=["bill payment (operators)"])
routers = [router, ops_router]


class BillerOut(BaseModel):
    code: str
    name: str
    category: str = Field(description="WATER, POWER, GAS, PHONE or TRAFFIC_FINE")


class BillOut(BaseModel):
    bill_id: str
    biller_code: str
    account_no: str
    holder: str
    period: str
    amount_fen: int
    due_date: str


class PayBillIn(Body):
    biller_code: str = Field(min_length=2, max_length=20)
    account_no: str = Field(min_length=1, max_length=40)
    bill_id: str = Field(min_length=1, max_length=120)
    request_id: str = RequestId
    funding: str = Field(
        "BALANCE", max_length=12, description="Any funding source: BALANCE, CARD, HUABEI, ..."
    )
    card_id: str | None = None
    pay_password: str | None = Field(None, min_length=6, max_length=6)


class ReceiptOut(BaseModel):
    payment_id: str
    request_id: str
    biller_code: str
    account_no: str
    holder: str
    bill_id: str
    period: str
    amount_fen: int
    funding: str
    automatic: bool
    status: str = Field(description="CREATED, PAID (biller not answered yet), SUCCEEDED, REFUNDED")
    receipt_no: str = Field(description="The biller's write-off number (缴费凭证号)")
    reason: str
    created_at_ms: int
    updated_at_ms: int


class AgreementIn(Body):
    biller_code: str = Field(min_length=2, max_length=20)
    account_no: str = Field(min_length=1, max_length=40)
    max_amount_fen: StrictInt = Field(description="A bill above it waits for the user")
    pay_password: str = Field(min_length=6, max_length=6)


class AgreementOut(BaseModel):
    agreement_id: str
    biller_code: str
    account_no: str
    max_amount_fen: int
    status: str
    created_at_ms: int


class BillerIn(Body):
    code: str = Field(min_length=2, max_length=20, examples=["HZWATER"])
    name: str = Field(min_length=2, max_length=80, examples=["杭州水务"])
    category: str = Field(examples=["WATER"])


def _biller(row: Any) -> dict[str, Any]:
    return {"code": row["code"], "name": row["name"], "category": row["category"]}


@router.get("/billers", response_model=list[BillerOut], summary="Billers one can pay")
def billers(p: PlatformDep, user_id: UserId) -> Any:
    return [_biller(r) for r in billpay.list_billers(p)]


@router.get("/bills", response_model=list[BillOut], summary="The unpaid bills of an account")
def bills(
    p: PlatformDep,
    user_id: UserId,
    biller_code: str = Query(..., min_length=2, max_length=20),
    account_no: str = Query(..., min_length=1, max_length=40),
) -> Any:
    return [asdict(b) for b in billpay.lookup(p, biller_code, account_no)]


@router.post("/payments", response_model=ReceiptOut, summary="Pay a bill (缴费); the receipt")
def pay(body: PayBillIn, p: PlatformDep, user_id: UserId) -> Any:
    row = billpay.pay_bill(
        p,
        user_id,
        body.biller_code,
        body.account_no,
        body.bill_id,
        body.request_id,
        body.pay_password,
        funding=body.funding,
        card_id=body.card_id,
    )
    return billpay.public_payment(row)


@router.get("/payments", response_model=list[ReceiptOut], summary="Bill payments, newest first")
def payments(p: PlatformDep, user_id: UserId, limit: int = Query(100, ge=1, le=1000)) -> Any:
    return [billpay.public_payment(r) for r in billpay.list_payments(p, user_id, limit)]


@router.get("/payments/{payment_id}", response_model=ReceiptOut, summary="A receipt")
def receipt(payment_id: str, p: PlatformDep, user_id: UserId) -> Any:
    return billpay.public_payment(billpay.get_payment(p, user_id, payment_id))


@router.post(
    "/agreements", response_model=AgreementOut, summary="Consent to automatic payment (签约代扣)"
)
def sign(body: AgreementIn, p: PlatformDep, user_id: UserId) -> Any:
    row = autopay.sign(
        p, user_id, body.biller_code, body.account_no, body.max_amount_fen, body.pay_password
    )
    return autopay.public_agreement(row)


@router.get("/agreements", response_model=list[AgreementOut])
def agreements(p: PlatformDep, user_id: UserId) -> Any:
    return [autopay.public_agreement(r) for r in autopay.agreements(p, user_id)]


@router.delete("/agreements/{agreement_id}", response_model=AgreementOut, summary="Cancel")
def cancel(agreement_id: str, p: PlatformDep, user_id: UserId) -> Any:
    return autopay.public_agreement(autopay.cancel(p, user_id, agreement_id))


@ops_router.post("/billers", response_model=BillerOut, summary="Register a biller (a merchant)")
def register(body: BillerIn, p: PlatformDep, op: Operator) -> Any:
    op.require("write")
    return _biller(billpay.register_biller(p, body.code, body.name, body.category))


@ops_router.post("/reconciliations/{biller_code}/{day}", summary="Reconcile a biller's daily file")
def reconcile_day(biller_code: str, day: date, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("write")
    return reconcile.reconcile(p, biller_code, day).as_dict()


@ops_router.get("/reconciliations/{biller_code}/{day}", summary="A stored reconciliation")
def stored(biller_code: str, day: date, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("read")
    return reconcile.stored_report(p, biller_code, day)


@ops_router.get("/files/{biller_code}/{day}", summary="The biller's daily file (CSV)")
def biller_file(biller_code: str, day: date, p: PlatformDep, op: Operator) -> Response:
    op.require("read")
    return Response(reconcile.file_csv(p, biller_code, day), media_type="text/csv; charset=utf-8")
