"""Huabei (花呗) endpoints: users use and repay their line, merchants refund Huabei purchases,
operators change lines, freeze, run the day-end jobs and read the provision report.

Mount with ``create_app(p, extra_routers=[credit_api.router, credit_api.merchant_router,
credit_api.ops_router])`` (or add them to the app's router list).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StrictBool, StrictInt

from qianbao.api.checks import not_future, not_future_or_none
from qianbao.api.deps import MerchantId, Operator, PlatformDep, UserId
from qianbao.api.errors import InstallmentOfferNotFound
from qianbao.api.models import Body, RequestId
from qianbao.api.ops_security import proposal
from qianbao.credit import dayend
from qianbao.credit import installments as credit_installments
from qianbao.credit import lines as credit_lines
from qianbao.credit import offers as credit_offers
from qianbao.credit import purchases as credit_purchases
from qianbao.credit import reads as credit_reads
from qianbao.credit import repayments as credit_repayments
from qianbao.members import roles
from qianbao.payments import codes, trades
from qianbao.platform.db import Row

router = APIRouter(prefix="/api/v1/huabei", tags=["huabei"])
merchant_router = APIRouter(prefix="/api/v1/merchant/huabei", tags=["merchant"])
ops_router = APIRouter(prefix="/api/v1/ops/huabei", tags=["operations"])
code_router = APIRouter(prefix="/api/v1/me/payment-code", tags=["trades"])


class OpenIn(Body):
    request_id: str = RequestId
    due_day: Literal[9, 10] = 10


class SummaryOut(BaseModel):
    user_id: str
    status: str
    line_fen: int
    everyday_cap_fen: int
    available_fen: int
    available_medical_fen: int
    unbilled_fen: int
    billed_unpaid_fen: int
    installment_outstanding_fen: int
    charges_unpaid_fen: int
    owed_now_fen: int
    receivable_fen: int
    prepaid_fen: int
    overdue_days: int
    frozen: bool
    frozen_reason: str
    due_day: int
    autodebit: bool
    written_off_fen: int
    interest_rate: str = Field(description="Daily overdue interest rate fixed on the account")
    interest_band: str = Field(description="Score band that priced it ('' without a score)")
    interest_priced_by: str


class HuabeiPayIn(Body):
    merchant_id: str
    amount_fen: StrictInt
    request_id: str = RequestId
    pay_password: str | None = Field(
        None, description="Required unless amount_fen is within the password-free limit"
    )
    installments: Literal[3, 6, 12] | None = Field(
        None, description="Purchase installments (交易分期); the fee is billed with each period"
    )
    category: Literal["everyday", "medical"] | None = Field(
        None,
        description="Deprecated: the purchase takes the merchant's category; if sent, it must"
        " be the merchant's",
    )
    memo: str = Field("", max_length=100)


class PurchaseOut(BaseModel):
    purchase_id: str
    user_id: str
    merchant_id: str
    amount_fen: int
    merchant_fee_fen: int
    refunded_fen: int
    category: str
    bill_date: str | None
    statement_id: str | None
    plan_id: str | None
    status: str
    created_at_ms: int


class ItemOut(BaseModel):
    kind: str
    ref: str
    principal_fen: int
    fee_fen: int
    memo: str


class BillOut(BaseModel):
    statement_id: str
    bill_date: str
    due_date: str
    deadline: str
    status: str
    purchase_fen: int
    installed_fen: int
    inst_principal_fen: int
    inst_fee_fen: int
    interest_fen: int
    total_fen: int
    minimum_fen: int
    minimum_left_fen: int
    paid_fen: int
    owed_fen: int
    overdue_since: str | None
    paid_on: str | None
    interest_rate: str = Field(description="Daily interest rate of this bill (its tier when cut)")
    interest_band: str
    interest_priced_by: str
    items: list[ItemOut] | None = None


class SplitIn(Body):
    periods: Literal[3, 6, 9, 12]
    request_id: str = RequestId


class PeriodOut(BaseModel):
    number: int
    bill_date: str
    principal_fen: int
    fee_fen: int
    status: str
    statement_id: str | None
    due_date: str | None = Field(None, description="Due date of the bill it is billed on")
    paid: bool | None = Field(None, description="Settled, or its bill is paid")


class PreviewPeriodOut(BaseModel):
    number: int
    bill_date: str
    principal_fen: int
    fee_fen: int


class PreviewOut(BaseModel):
    statement_id: str | None = None
    purchase_id: str | None = None
    principal_fen: int
    periods: int
    fee_rate: str
    fee_fen: int
    schedule: list[PreviewPeriodOut]


class PurchaseSplitIn(Body):
    periods: Literal[3, 6, 12]
    request_id: str = RequestId


class PlanOut(BaseModel):
    plan_id: str
    kind: str
    source_id: str
    principal_fen: int
    fee_fen: int
    fee_rate: str
    periods: int
    subsidised: bool
    status: str
    schedule: list[PeriodOut] | None = None


class SettleIn(Body):
    request_id: str = RequestId


class RepayIn(Body):
    amount_fen: StrictInt
    request_id: str = RequestId
    pay_password: str | None = None
    card_id: str | None = Field(None, description="Repay from this bound card, not the wallet")


class RepaymentOut(BaseModel):
    repayment_id: str
    amount_fen: int
    source: str
    allocation: list[dict[str, Any]]
    created_at_ms: int


class PayoffOut(BaseModel):
    total_fen: int
    bills: dict[str, int]


class LineRequestIn(Body):
    new_line_fen: StrictInt
    request_id: str = RequestId


class LineChangeOut(BaseModel):
    kind: str
    old_line_fen: int
    new_line_fen: int
    decision: str
    reason: str
    actor: str
    created_at_ms: int


class AutodebitIn(Body):
    enabled: StrictBool


class HuabeiRefundIn(Body):
    amount_fen: StrictInt
    request_id: str = RequestId
    reason: str = Field("", max_length=100)


class SetLineIn(Body):
    line_fen: StrictInt
    reason: str = Field(min_length=1, max_length=200)


class FreezeIn(Body):
    frozen: StrictBool
    reason: str = Field(min_length=1, max_length=200)


class DayEndIn(Body):
    day: date


def _purchase(row: Row) -> dict[str, Any]:
    return {
        "purchase_id": row["id"],
        **{
            k: row[k]
            for k in (
                "user_id",
                "merchant_id",
                "amount_fen",
                "merchant_fee_fen",
                "refunded_fen",
                "category",
                "bill_date",
                "statement_id",
                "plan_id",
                "status",
                "created_at_ms",
            )
        },
    }


def _plan(plan: dict[str, Any] | Row) -> dict[str, Any]:
    out = {
        "plan_id": plan["id"],
        **{
            k: plan[k]
            for k in (
                "kind",
                "source_id",
                "principal_fen",
                "fee_fen",
                "fee_rate",
                "periods",
                "status",
            )
        },
    }
    out["subsidised"] = bool(plan["subsidised"])
    if "schedule" in plan:
        out["schedule"] = plan["schedule"]
    return out


def _repayment(row: Row) -> dict[str, Any]:
    import json

    return {
        "repayment_id": row["id"],
        "amount_fen": row["amount_fen"],
        "source": row["source"],
        "allocation": json.loads(row["allocation"]),
        "created_at_ms": row["created_at_ms"],
    }


# --- users ---------------------------------------------------------------------------------------
@router.post(
    "/account",
    status_code=201,
    response_model=SummaryOut,
    summary="Open Huabei (开通花呗): real-name adults, one per ID number and phone",
)
def open_account(body: OpenIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    credit_lines.open_credit_account(p, user_id, body.request_id, body.due_day)
    return credit_reads.summary(p, user_id)


@router.get("", response_model=SummaryOut, summary="Line, available, owed and overdue state")
def summary(p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return credit_reads.summary(p, user_id)


@router.put("/autodebit", response_model=SummaryOut, summary="Automatic debit on the due date")
def autodebit(body: AutodebitIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    credit_lines.set_autodebit(p, user_id, body.enabled)
    return credit_reads.summary(p, user_id)


@router.post(
    "/payments",
    status_code=201,
    response_model=PurchaseOut,
    summary="Pay a merchant with Huabei (optionally in installments)",
)
def pay(body: HuabeiPayIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    row = credit_purchases.pay_merchant_with_huabei(
        p,
        user_id,
        body.merchant_id,
        body.amount_fen,
        body.request_id,
        body.pay_password,
        body.installments,
        False,
        body.category,
        body.memo,
    )
    return _purchase(row)


@router.get("/purchases", response_model=list[PurchaseOut])
def purchases(
    p: PlatformDep, user_id: UserId, limit: int = Query(100, ge=1, le=500)
) -> list[dict[str, Any]]:
    return [_purchase(r) for r in credit_reads.list_purchases(p, user_id, limit)]


@router.get("/bills", response_model=list[BillOut], summary="Statements, newest first")
def bills(p: PlatformDep, user_id: UserId) -> list[dict[str, Any]]:
    return credit_reads.list_statements(p, user_id)


@router.get(
    "/bills/{statement_id}",
    response_model=BillOut,
    summary="A statement with its items, minimum and due date",
)
def bill(statement_id: str, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return credit_reads.get_statement(p, user_id, statement_id)


@router.post(
    "/bills/{statement_id}/installments",
    status_code=201,
    response_model=PlanOut,
    summary="Split a bill into 3/6/9/12 periods (账单分期), by its due date",
)
def split(statement_id: str, body: SplitIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    plan = credit_installments.install_bill(p, user_id, statement_id, body.periods, body.request_id)
    return _plan(credit_installments.plan_schedule(p, user_id, plan["id"]))


@router.get(
    "/bills/{statement_id}/installments/preview",
    response_model=PreviewOut,
    summary="What splitting a bill would cost now (nothing is booked)",
)
def split_preview(
    statement_id: str, p: PlatformDep, user_id: UserId, periods: int = Query(ge=1, le=36)
) -> dict[str, Any]:
    return credit_installments.preview_bill(p, user_id, statement_id, periods)


@router.get(
    "/purchases/{purchase_id}/installments/preview",
    response_model=PreviewOut,
    summary="What splitting a purchase not yet billed would cost now (nothing is booked)",
)
def purchase_split_preview(
    purchase_id: str, p: PlatformDep, user_id: UserId, periods: int = Query(ge=1, le=36)
) -> dict[str, Any]:
    return credit_installments.preview_purchase(p, user_id, purchase_id, periods)


@router.post(
    "/purchases/{purchase_id}/installments",
    status_code=201,
    response_model=PlanOut,
    summary="Split a purchase not yet billed into 3/6/12 periods (交易分期)",
)
def purchase_split(
    purchase_id: str, body: PurchaseSplitIn, p: PlatformDep, user_id: UserId
) -> dict[str, Any]:
    plan = credit_installments.install_purchase(
        p, user_id, purchase_id, body.periods, body.request_id
    )
    return _plan(credit_installments.plan_schedule(p, user_id, plan["id"]))


@router.get("/plans", response_model=list[PlanOut])
def plans(p: PlatformDep, user_id: UserId) -> list[dict[str, Any]]:
    return [_plan(r) for r in credit_reads.list_plans(p, user_id)]


@router.get("/plans/{plan_id}", response_model=PlanOut, summary="A plan with its schedule")
def plan(plan_id: str, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return _plan(credit_installments.plan_schedule(p, user_id, plan_id))


@router.post(
    "/plans/{plan_id}/settlement",
    response_model=PlanOut,
    summary="Settle a plan early from the wallet",
)
def settle(plan_id: str, body: SettleIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    credit_installments.settle_plan(p, user_id, plan_id, body.request_id)
    return _plan(credit_installments.plan_schedule(p, user_id, plan_id))


@router.get(
    "/payoff",
    response_model=PayoffOut,
    summary="What clears every unpaid bill today, including today's interest",
)
def payoff(p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    bills = credit_repayments.payoff_fen(p, user_id)
    return {"total_fen": sum(bills.values()), "bills": bills}


@router.post(
    "/repayments",
    status_code=201,
    response_model=RepaymentOut,
    summary="Repay any amount: fees and interest first, then installments, then"
    " principal, oldest first",
)
def repay(body: RepayIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return _repayment(
        credit_repayments.repay(
            p, user_id, body.amount_fen, body.request_id, body.pay_password, body.card_id
        )
    )


@router.get("/repayments", response_model=list[RepaymentOut])
def repayments(p: PlatformDep, user_id: UserId) -> list[dict[str, Any]]:
    return [_repayment(r) for r in credit_reads.repayments(p, user_id)]


@router.post(
    "/line-requests",
    status_code=201,
    response_model=LineChangeOut,
    summary="Ask for a higher line; the decision and its reason are recorded",
)
def line_request(body: LineRequestIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return dict(credit_lines.request_increase(p, user_id, body.new_line_fen, body.request_id))


@router.get("/line-history", response_model=list[LineChangeOut])
def line_history(p: PlatformDep, user_id: UserId) -> list[dict[str, Any]]:
    return [dict(r) for r in credit_reads.line_history(p, user_id)]


# --- merchants -----------------------------------------------------------------------------------
@merchant_router.post(
    "/purchases/{purchase_id}/refunds",
    response_model=PurchaseOut,
    summary="Refund (part of) a Huabei purchase: restores the buyer's line",
)
def refund(
    purchase_id: str, body: HuabeiRefundIn, p: PlatformDep, merchant_id: MerchantId
) -> dict[str, Any]:
    return _purchase(
        credit_purchases.refund_huabei_purchase(
            p, merchant_id, purchase_id, body.amount_fen, body.request_id, body.reason
        )
    )


# --- operators -----------------------------------------------------------------------------------
@ops_router.get("/users/{user_id}", response_model=SummaryOut)
def ops_summary(user_id: str, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("read")
    return credit_reads.summary(p, user_id)


@ops_router.put(
    "/users/{user_id}/line",
    status_code=202,
    summary="Ask to set a user's line (e.g. decrease it); runs when a second operator approves",
)
def ops_line(user_id: str, body: SetLineIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require(roles.propose("credit_line"))
    credit_reads.summary(p, user_id)  # an unknown user or one without Huabei: a 404 now
    params = {"user_id": user_id, "line_fen": body.line_fen, "reason": body.reason}
    return proposal(p, op, "credit_line", user_id, params)


@ops_router.put(
    "/users/{user_id}/freeze", response_model=SummaryOut, summary="Freeze or thaw a user's Huabei"
)
def ops_freeze(user_id: str, body: FreezeIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require(roles.CREDIT)
    credit_lines.operator_freeze(p, op.id, user_id, body.frozen, body.reason)
    return credit_reads.summary(p, user_id)


@ops_router.post("/day-end", summary="Run the start- and end-of-day jobs for one business date")
def ops_day_end(body: DayEndIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require(roles.JOBS)
    day = not_future(body.day)
    return {"start": dayend.start_of_day(p, day), "end": dayend.end_of_day(p, day)}


@ops_router.get("/report", summary="Receivables by bucket, overdue rate and provision")
def ops_report(
    p: PlatformDep,
    op: Operator,
    day: date | None = Query(None, description="as of (default: latest)"),
) -> dict[str, Any]:
    op.require("read")
    return dayend.portfolio_report(p, not_future_or_none(day))


# --- payment codes drawing on Huabei ------------------------------------------------------------
class CodeFundingIn(Body):
    funding: Literal["BALANCE", "HUABEI"] = Field(
        description="What new payment codes (付款码) draw on: the balance or Huabei"
    )


class CodeFundingOut(BaseModel):
    funding: str


@code_router.get("/funding", response_model=CodeFundingOut, summary="What payment codes draw on")
def code_funding(p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return codes.code_funding_setting(p, user_id)


@code_router.put(
    "/funding",
    response_model=CodeFundingOut,
    summary="Choose the balance or Huabei for payment codes issued from now on",
)
def set_code_funding(body: CodeFundingIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return codes.set_code_funding(p, user_id, body.funding)


class OfferOut(BaseModel):
    hb_fq_num: int
    hb_fq_seller_percent: int


@router.get(
    "/trades/{trade_id}/offer",
    response_model=OfferOut,
    summary="The merchant's installment offer on a trade (hb_fq_num / hb_fq_seller_percent)",
)
def trade_offer(trade_id: str, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    trade = trades.get_buyer_trade(p, trade_id, user_id)
    offer = credit_offers.offer_for(p, trade["merchant_id"], trade["out_trade_no"])
    if offer is None:
        raise InstallmentOfferNotFound("this trade has no installment offer")
    return offer.to_dict()


routers = [router, merchant_router, ops_router, code_router]
