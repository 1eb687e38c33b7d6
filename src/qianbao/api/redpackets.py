"""Red packet endpoints (红包): groups, sending, claiming; operators run the refund of expired
packets. Amounts are integer fen."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query
from pydantic import Field, StrictInt

from qianbao.api.deps import Operator, PlatformDep, UserId
from qianbao.api.models import Body, RequestId
from qianbao.redpackets import claims
from qianbao.redpackets import service as redpackets

router = APIRouter(prefix="/api/v1", tags=["red packets"])


class GroupIn(Body):
    name: str = Field(..., max_length=60, examples=["家人群"])
    member_ids: list[str] = Field(..., max_length=500, description="user ids (you are added)")


class PacketIn(Body):
    kind: str = Field(..., max_length=10, description="PERSONAL, FIXED or RANDOM")
    amount_fen: StrictInt = Field(
        ..., description="the total (PERSONAL, RANDOM) or each share's amount (FIXED)"
    )
    shares: StrictInt = Field(1, description="how many shares (1 for PERSONAL)")
    recipient_id: str | None = Field(None, max_length=40, description="PERSONAL: to whom")
    group_id: str | None = Field(None, max_length=40, description="FIXED / RANDOM: which group")
    message: str = Field("", max_length=40, examples=["恭喜发财"])
    request_id: str = RequestId
    pay_password: str | None = Field(None, max_length=6)


@router.post("/red-groups", status_code=201, summary="Create a group (a list of users)")
def create_group(body: GroupIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return redpackets.create_group(p, user_id, body.name, body.member_ids)


@router.get("/me/red-groups", summary="My groups")
def my_groups(p: PlatformDep, user_id: UserId) -> list[dict[str, Any]]:
    return redpackets.my_groups(p, user_id)


@router.get("/red-groups/{group_id}", summary="A group I am in")
def group(
    p: PlatformDep, user_id: UserId, group_id: str = Path(..., max_length=40)
) -> dict[str, Any]:
    return redpackets.get_group(p, group_id, user_id)


@router.post("/red-packets", status_code=201, summary="Send a red packet (发红包)")
def send(body: PacketIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return redpackets.send(
        p,
        user_id,
        kind=body.kind,
        amount_fen=body.amount_fen,
        shares=body.shares,
        recipient_id=body.recipient_id,
        group_id=body.group_id,
        message=body.message,
        request_id=body.request_id,
        pay_password=body.pay_password,
    )


@router.get("/me/red-packets", summary="Red packets I sent, newest first")
def sent(
    p: PlatformDep, user_id: UserId, limit: int = Query(50, ge=1, le=200)
) -> list[dict[str, Any]]:
    return claims.sent_by(p, user_id, limit)


@router.get("/red-packets/{packet_id}", summary="A red packet and its claims")
def packet(
    p: PlatformDep, user_id: UserId, packet_id: str = Path(..., max_length=40)
) -> dict[str, Any]:
    return claims.get_packet(p, packet_id, user_id)


@router.post("/red-packets/{packet_id}/claim", summary="Claim a share (抢红包)")
def claim(
    p: PlatformDep, user_id: UserId, packet_id: str = Path(..., max_length=40)
) -> dict[str, Any]:
    return claims.claim(p, packet_id, user_id)


@router.post("/ops/red-packets/refund-expired", summary="Return what is unclaimed after 24 h")
def refund_expired(p: PlatformDep, op: Operator) -> dict[str, int]:
    op.require("write")
    return claims.refund_expired(p)
