"""Full-reduction offers (满减) over HTTP: operators create and stop campaigns and read their
budgets; anyone at the cashier can ask which offer a price would get at a merchant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StrictInt

from qianbao.api.deps import Operator, PlatformDep, UserId
from qianbao.api.models import Body
from qianbao.marketing.errors import ReductionInvalid
from qianbao.marketing.reductions import service as reductions
from qianbao.platform.clock import TZ

router = APIRouter(prefix="/api/v1", tags=["full-reduction offers"])


def _ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ReductionInvalid("times are ISO 8601, e.g. 2026-11-11T00:00:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TZ)
    return int(moment.timestamp() * 1000)


class TierIn(Body):
    threshold_fen: StrictInt = Field(description="Spend at least this (the price, in fen)")
    off_fen: StrictInt = Field(description="... and get this much off")


class ReductionIn(Body):
    name: str = Field(..., max_length=80, examples=["双十一满200减30"])
    funder: str = Field(..., max_length=12, description="PLATFORM or MERCHANT")
    merchant_id: str | None = Field(None, max_length=40, description="None: every merchant")
    tiers: list[TierIn] = Field(..., min_length=1, max_length=10)
    budget_fen: StrictInt
    valid_from: str = Field(..., max_length=40, description="ISO 8601, Asia/Shanghai if naive")
    valid_until: str = Field(..., max_length=40)


class TierOut(BaseModel):
    threshold_fen: int
    off_fen: int


class ReductionOut(BaseModel):
    campaign_id: str
    name: str
    funder: str
    merchant_id: str | None
    tiers: list[TierOut]
    budget_fen: int
    valid_from_ms: int
    valid_until_ms: int
    status: str


class OfferOut(BaseModel):
    offer_id: str | None
    offer_fen: int
    funder: str
    pays_fen: int = Field(description="The price after the offer (before any coupon)")


@router.post(
    "/ops/reductions",
    status_code=201,
    response_model=ReductionOut,
    summary="Create a full-reduction campaign (满减)",
)
def create(body: ReductionIn, p: PlatformDep, op: Operator) -> Any:
    op.require("write")
    row = reductions.create_campaign(
        p,
        name=body.name,
        funder=body.funder,
        tiers=[(t.threshold_fen, t.off_fen) for t in body.tiers],
        budget_fen=body.budget_fen,
        valid_from_ms=_ms(body.valid_from),
        valid_until_ms=_ms(body.valid_until),
        merchant_id=body.merchant_id,
    )
    return reductions.public_campaign(row)


@router.get("/ops/reductions", response_model=list[ReductionOut])
def campaigns(p: PlatformDep, op: Operator, limit: int = Query(100, ge=1, le=1000)) -> Any:
    op.require("read")
    return [reductions.public_campaign(r) for r in reductions.list_campaigns(p, limit)]


@router.post("/ops/reductions/{campaign_id}/stop", response_model=ReductionOut)
def stop(campaign_id: str, p: PlatformDep, op: Operator) -> Any:
    op.require("write")
    return reductions.public_campaign(reductions.stop_campaign(p, campaign_id))


@router.get("/ops/reductions/{campaign_id}/budget", summary="Budget spent and left, per unit")
def budget(campaign_id: str, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("read")
    return reductions.budget_of(p, campaign_id)


@router.get("/reductions/offer", response_model=OfferOut, summary="The offer a price would get")
def offer(
    p: PlatformDep,
    user_id: UserId,
    merchant_id: str = Query(..., max_length=40),
    amount_fen: int = Query(..., ge=1, le=10**12),
) -> Any:
    found = reductions.best(p, merchant_id, amount_fen, p.unit_of(user_id))
    off = found.offer_fen if found else 0
    return {
        "offer_id": found.offer_id if found else None,
        "offer_fen": off,
        "funder": found.funder if found else "",
        "pays_fen": amount_fen - off,
    }
