"""Coupon endpoints: a user's coupons; operators create campaigns and issue coupons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field, StrictInt

from qianbao.api.deps import Operator, PlatformDep, UserId
from qianbao.api.models import Body
from qianbao.marketing import service as marketing
from qianbao.marketing.errors import CampaignInvalid
from qianbao.platform.clock import TZ

router = APIRouter(prefix="/api/v1", tags=["marketing"])


def _ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CampaignInvalid("times are ISO 8601, e.g. 2026-08-01T00:00:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TZ)
    return int(moment.timestamp() * 1000)


class CampaignIn(Body):
    name: str = Field(..., max_length=80)
    funder: str = Field(..., max_length=12, description="PLATFORM or MERCHANT")
    merchant_id: str | None = Field(None, max_length=40)
    face_fen: StrictInt
    min_spend_fen: StrictInt
    valid_from: str = Field(..., max_length=40, description="ISO 8601, Asia/Shanghai if naive")
    valid_until: str = Field(..., max_length=40)
    per_user_limit: StrictInt = 1
    budget_fen: StrictInt


class IssueIn(Body):
    user_id: str = Field(..., max_length=40)
    request_id: str = Field(..., max_length=64)


@router.get("/me/coupons", summary="My coupons (券)")
def my_coupons(
    p: PlatformDep, user_id: UserId, status: str | None = Query(None, pattern="^(AVAILABLE|USED)$")
) -> list[dict[str, Any]]:
    return [marketing.public_coupon(c) for c in marketing.list_coupons(p, user_id, status)]


@router.post("/ops/coupon-campaigns", status_code=201, summary="Create a coupon campaign")
def create_campaign(body: CampaignIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("write")
    row = marketing.create_campaign(
        p,
        name=body.name,
        funder=body.funder,
        merchant_id=body.merchant_id,
        face_fen=body.face_fen,
        min_spend_fen=body.min_spend_fen,
        valid_from_ms=_ms(body.valid_from),
        valid_until_ms=_ms(body.valid_until),
        per_user_limit=body.per_user_limit,
        budget_fen=body.budget_fen,
    )
    return dict(row)


@router.get("/ops/coupon-campaigns", summary="Coupon campaigns, newest first")
def campaigns(p: PlatformDep, op: Operator) -> list[dict[str, Any]]:
    op.require("read")
    return [dict(c) for c in marketing.list_campaigns(p)]


@router.post(
    "/ops/coupon-campaigns/{campaign_id}/coupons", status_code=201, summary="Issue a coupon"
)
def issue(campaign_id: str, body: IssueIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("write")
    coupon = marketing.issue(p, campaign_id, body.user_id, body.request_id)
    return marketing.public_coupon(coupon)
