"""Customer notification endpoints: a user's notices and preferences; operators read the
gateways' delivery log, the counts by status, and can run a delivery pass."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field

from qianbao.api.deps import Operator, PlatformDep, UserId
from qianbao.api.models import Body
from qianbao.notices import delivery, prefs, service

router = APIRouter(prefix="/api/v1", tags=["notices"])
_KIND = Query(None, max_length=40, description="Only this kind (e.g. large_payment)")


class PrefsIn(Body):
    language: str | None = Field(None, max_length=4, description="zh or en")
    channel: str | None = Field(None, max_length=8, description="SMS, PUSH or EMAIL")
    email: str | None = Field(None, max_length=120, description='"" removes the address')
    quiet_start: str | None = Field(None, max_length=5, description="HH:MM, local time")
    quiet_end: str | None = Field(None, max_length=5, description="HH:MM; equal to start: none")


@router.get("/me/notices", summary="My notifications, newest first")
def my_notices(
    p: PlatformDep,
    user_id: UserId,
    kind: str | None = _KIND,
    limit: int = Query(50, ge=1, le=200),
) -> list[dict[str, Any]]:
    return service.list_notices(p, user_id, kind, limit)


@router.get("/me/notice-prefs", summary="My notification preferences")
def my_prefs(p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return prefs.get_prefs(p, user_id)


@router.put("/me/notice-prefs", summary="Change my notification preferences")
def set_my_prefs(body: PrefsIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return prefs.set_prefs(p, user_id, **body.model_dump(exclude_none=True))


@router.get("/ops/notices/deliveries", summary="The gateways' delivery log of a user")
def deliveries(
    p: PlatformDep, op: Operator, user_id: str = Query(..., max_length=40), kind: str | None = _KIND
) -> list[dict[str, Any]]:
    op.require("read")
    return service.delivery_log(p, user_id, kind)


@router.get("/ops/notices/stats", summary="Notices by status, all units")
def notice_stats(p: PlatformDep, op: Operator) -> dict[str, int]:
    op.require("read")
    return service.stats(p)


@router.post("/ops/notices/deliver", summary="Run one delivery pass now")
def deliver_now(p: PlatformDep, op: Operator) -> dict[str, int]:
    op.require("write")
    return delivery.deliver_due(p)
