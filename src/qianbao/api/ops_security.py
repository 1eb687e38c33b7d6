"""Operator endpoints of issue 11 ("security and trust"): merchant classification, and (in the
modules beside it) roles, approvals and the audit log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, Field, StrictInt

from qianbao.api.deps import Operator, PlatformDep
from qianbao.api.models import Body, RequestId
from qianbao.backoffice import adjustments, approvals, audit, totp
from qianbao.members import merchant_category, roles
from qianbao.members import service as members
from qianbao.platform.runtime import Platform

router = APIRouter(prefix="/api/v1/ops", tags=["operations"])


class MerchantCategoryIn(Body):
    category: str = Field(..., max_length=12, description="everyday or medical")


@router.put(
    "/merchants/{merchant_id}/category",
    summary="Classify a merchant (everyday or medical): Huabei purchases take this category",
)
def set_merchant_category(
    merchant_id: str, body: MerchantCategoryIn, p: PlatformDep, op: Operator
) -> dict[str, Any]:
    op.require(roles.MERCHANTS)
    row = merchant_category.set_category(p, merchant_id, body.category)
    return {"merchant_id": row["id"], "category": row["category"]}


# --- maker-checker ------------------------------------------------------------------------------
def proposal(
    p: Platform, op: members.Principal, kind: str, target: str, params: dict[str, Any]
) -> dict[str, Any]:
    """What an endpoint of a money-moving operator action answers: the PENDING approval (202);
    the action runs when a second operator approves it."""
    return approvals.public(approvals.propose(p, op, kind, target, params))


class DecisionIn(Body):
    note: str = Field("", max_length=200)


OtpHeader = Annotated[
    str | None,
    Header(
        alias="X-Operator-OTP",
        max_length=10,
        description="The checker's current one-time password (required once enrolled)",
    ),
]


@router.get("/approvals", summary="Maker-checker approvals, newest first")
def list_approvals(
    p: PlatformDep,
    op: Operator,
    status: Literal["PENDING", "EXECUTING", "APPROVED", "REJECTED", "FAILED"] | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> list[dict[str, Any]]:
    op.require(roles.READ)
    return [approvals.public(r) for r in approvals.list_approvals(p, status, limit)]


@router.get("/approvals/{approval_id}", summary="One approval")
def get_approval(approval_id: str, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require(roles.READ)
    return approvals.public(approvals.get(p, approval_id))


@router.post(
    "/approvals/{approval_id}/approve",
    summary="Approve another operator's request: the action runs now (四眼原则)",
)
def approve(
    approval_id: str, body: DecisionIn, p: PlatformDep, op: Operator, otp: OtpHeader = None
) -> dict[str, Any]:
    totp.verify(p, op.id, otp, p.settings.operator_otp_required)
    return approvals.public(approvals.approve(p, op, approval_id, body.note))


@router.post("/approvals/{approval_id}/reject", summary="Reject another operator's request")
def reject(
    approval_id: str, body: DecisionIn, p: PlatformDep, op: Operator, otp: OtpHeader = None
) -> dict[str, Any]:
    totp.verify(p, op.id, otp, p.settings.operator_otp_required)
    return approvals.public(approvals.reject(p, op, approval_id, body.note))


# --- audit log and one-time passwords -----------------------------------------------------------
@router.get("/audit", summary="The audit log of operator actions, newest first (auditors)")
def audit_log(
    p: PlatformDep,
    op: Operator,
    operator_id: str | None = Query(None, max_length=40),
    before_id: str | None = Query(None, max_length=40),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    op.require(roles.AUDIT)
    return [audit.public(r) for r in audit.read(p, operator_id, before_id, limit)]


class OtpEnrolOut(BaseModel):
    provisioning_uri: str


@router.post(
    "/me/otp",
    response_model=OtpEnrolOut,
    summary="Enrol my one-time password (shown once: scan it into an authenticator app)",
)
def enrol_otp(p: PlatformDep, op: Operator) -> dict[str, Any]:
    return {"provisioning_uri": totp.enrol(p, op.id, op.id)}


class AdjustmentIn(Body):
    user_id: str = Field(..., max_length=40)
    amount_fen: StrictInt = Field(description="positive credits the wallet, negative debits it")
    reason: str = Field(..., min_length=1, max_length=200)
    request_id: str = RequestId


@router.post(
    "/adjustments",
    status_code=202,
    summary="Ask to adjust a user's balance (调账); booked when a second operator approves",
)
def propose_adjustment(body: AdjustmentIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require(roles.propose("adjustment"))
    adjustments.check(body.amount_fen, body.reason)
    members.get_user(p, body.user_id)  # an unknown user is a 404 now
    params = body.model_dump()
    return proposal(p, op, "adjustment", body.user_id, params)
